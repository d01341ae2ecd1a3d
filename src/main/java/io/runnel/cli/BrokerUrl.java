package io.runnel.cli;

import picocli.CommandLine.Option;

/**
 * A command that talks to the broker's HTTP API: {@code --url}, else {@code RUNNEL_URL}, else the
 * local default (the rest is {@link RestCommand}'s).
 */
abstract class BrokerUrl extends RestCommand {

    @Option(names = "--url", paramLabel = "URL", defaultValue = "${env:RUNNEL_URL:-http://127.0.0.1:8082}",
            description = "The broker's HTTP API (default: $RUNNEL_URL, else ${DEFAULT-VALUE}).")
    String url;

    @Override
    RestClient newClient() {
        return new RestClient(url);
    }
}

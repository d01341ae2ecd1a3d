package io.runnel.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code runnel produce TOPIC}: each line of stdin becomes one record, sent through the broker's
 * v2 produce API. A line {@code key:value} (split at the first separator) is a keyed record, so
 * the key picks the partition as a Kafka client's would; a line without the separator, or any
 * line with {@code --no-key}, is a value alone. Lines go as raw bytes (base64 on the wire), so any
 * text arrives exactly as typed.
 *
 * <p>Lines are sent as soon as they are read: whatever is already waiting on stdin (a pipe, a
 * paste) travels in one request of up to {@code --batch} records, and an interactive line goes
 * alone. Each record is acknowledged (durably, by the broker's default) before the next request.
 */
@Command(name = "produce", mixinStandardHelpOptions = true,
        description = "Send lines from stdin as records: 'value', or 'key:value' (see --key-separator, --no-key).")
final class ProduceCommand extends BrokerUrl {

    @Parameters(paramLabel = "TOPIC")
    String topic;

    @Option(names = "--partition", description = "Send every record to this partition.")
    Integer partition;

    @Option(names = "--key-separator", defaultValue = ":", description = "Separates key from value (default '${DEFAULT-VALUE}').")
    String separator;

    @Option(names = "--no-key", description = "Take each whole line as the value, even if it holds the separator.")
    boolean noKey;

    @Option(names = "--batch", defaultValue = "500", description = "Most records per request (default ${DEFAULT-VALUE}).")
    int batch;

    InputStream in = System.in;

    @Override
    int execute(RestClient client) throws RestClient.ApiError {
        if (batch < 1 || separator.isEmpty()) {
            err().println("--batch must be at least 1 and --key-separator non-empty");
            return 2;
        }
        String path = "/topics/" + RestClient.encode(topic) + (partition == null ? "" : "/partitions/" + partition);
        long produced = 0;
        int failed = 0;
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            List<String> pending = new ArrayList<>();
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                pending.add(line);
                if (pending.size() >= batch || !lines.ready()) {
                    failed += send(client, path, pending);
                    produced += pending.size();
                    pending.clear();
                }
            }
            if (!pending.isEmpty()) {
                failed += send(client, path, pending);
                produced += pending.size();
            }
        } catch (IOException e) {
            err().println("Reading stdin failed: " + e.getMessage());
            return 1;
        }
        err().printf("Produced %d record(s) to %s%s%n", produced - failed, topic,
                failed == 0 ? "" : "; " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }

    /** Sends one request; returns how many of its records the broker did not write. */
    private int send(RestClient client, String path, List<String> lines) throws RestClient.ApiError {
        Base64.Encoder base64 = Base64.getEncoder();
        JsonArray records = new JsonArray();
        for (String line : lines) {
            int at = noKey ? -1 : line.indexOf(separator);
            JsonObject record = new JsonObject();
            String value = line;
            if (at >= 0) {
                record.put("key", base64.encodeToString(line.substring(0, at).getBytes(StandardCharsets.UTF_8)));
                value = line.substring(at + separator.length());
            }
            records.add(record.put("value", base64.encodeToString(value.getBytes(StandardCharsets.UTF_8))));
        }
        JsonObject answer = (JsonObject) client.post(path, RestClient.BINARY_V2, new JsonObject().put("records", records));
        int failed = 0;
        for (Object o : answer.getJsonArray("offsets")) {
            JsonObject offset = (JsonObject) o;
            if (offset.getValue("error_code") != null) {
                failed++;
                err().printf("Record not written: %s%n", offset.getString("error"));
            }
        }
        return failed;
    }
}

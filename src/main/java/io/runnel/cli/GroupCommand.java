package io.runnel.cli;

import java.util.UUID;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code runnel group list|describe|reset-offsets}: consumer groups through a running broker's v3
 * API, and offset resets through a v2 consumer instance that commits without joining (which the
 * broker allows only while the group has no members, as Kafka does).
 */
@Command(name = "group", mixinStandardHelpOptions = true,
        description = "List and describe consumer groups, and reset their committed offsets.",
        subcommands = {GroupCommand.ListGroups.class, GroupCommand.Describe.class, GroupCommand.ResetOffsets.class})
final class GroupCommand implements Runnable {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static String groupsPath(RestClient client) throws RestClient.ApiError {
        return "/v3/clusters/" + RestClient.encode(client.clusterId()) + "/consumer-groups";
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List consumer groups with their state.")
    static final class ListGroups extends BrokerUrl {
        @Override
        int execute(RestClient client) throws RestClient.ApiError {
            JsonArray groups = ((JsonObject) client.get(groupsPath(client))).getJsonArray("data");
            out().printf("%-40s %s%n", "GROUP", "STATE");
            for (Object g : groups) {
                JsonObject group = (JsonObject) g;
                out().printf("%-40s %s%n", group.getString("consumer_group_id"), group.getString("state"));
            }
            return 0;
        }
    }

    @Command(name = "describe", mixinStandardHelpOptions = true,
            description = "Show a group's committed offsets, log end offsets, lag and owners per partition.")
    static final class Describe extends BrokerUrl {
        @Parameters(paramLabel = "GROUP")
        String group;

        @Override
        int execute(RestClient client) throws RestClient.ApiError {
            String path = groupsPath(client) + "/" + RestClient.encode(group);
            JsonObject g = (JsonObject) client.get(path);
            out().printf("Group: %s  State: %s%n", group, g.getString("state"));
            JsonArray lags = ((JsonObject) client.get(path + "/lags")).getJsonArray("data");
            out().printf("%-30s %-10s %-16s %-16s %-10s %s%n", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET",
                    "LAG", "CONSUMER");
            for (Object o : lags) {
                JsonObject lag = (JsonObject) o;
                String consumer = lag.getString("consumer_id");
                out().printf("%-30s %-10d %-16d %-16d %-10d %s%n", lag.getString("topic_name"),
                        lag.getInteger("partition_id"), lag.getLong("current_offset"), lag.getLong("log_end_offset"),
                        lag.getLong("lag"), consumer == null || consumer.isEmpty() ? "-" : consumer);
            }
            return 0;
        }
    }

    @Command(name = "reset-offsets", mixinStandardHelpOptions = true,
            description = "Move a group's committed offsets on a topic. Shows the plan; --execute commits it."
                    + " The group must have no active members.")
    static final class ResetOffsets extends BrokerUrl {
        @Parameters(paramLabel = "GROUP")
        String group;

        @Option(names = "--topic", required = true, description = "The topic whose offsets move.")
        String topic;

        @Option(names = "--to", required = true, paramLabel = "earliest|latest|OFFSET|TIME",
                description = "The new position: earliest, latest, an offset, or an ISO-8601 time.")
        String to;

        @Option(names = "--execute", description = "Commit the new offsets (without it, only show them).")
        boolean execute;

        @Override
        int execute(RestClient client) throws RestClient.ApiError {
            if (!PartitionPosition.isValid(to)) {
                err().println("--to must be earliest, latest, an offset (0 or more) or an ISO-8601 time, not '" + to + "'");
                return 2;
            }
            String t = RestClient.encode(topic);
            int partitions = ((JsonObject) client.get("/topics/" + t)).getJsonArray("partitions").size();
            JsonArray assignment = new JsonArray();
            JsonArray planned = new JsonArray();
            for (int p = 0; p < partitions; p++) {
                long target = PartitionPosition.resolve(client, t, p, to).offset();
                assignment.add(new JsonObject().put("topic", topic).put("partition", p));
                planned.add(new JsonObject().put("topic", topic).put("partition", p).put("offset", target));
            }
            JsonObject created = (JsonObject) client.post("/consumers/" + RestClient.encode(group), RestClient.V2,
                    new JsonObject().put("name", "runnel-cli-reset-" + UUID.randomUUID()).put("format", "binary")
                            .put("auto.commit.enable", "false"));
            String instance = created.getString("base_uri").substring(client.base().length());
            try {
                client.post(instance + "/assignments", RestClient.V2, new JsonObject().put("partitions", assignment));
                JsonArray current = ((JsonObject) client.send("GET", instance + "/offsets", RestClient.V2,
                        new JsonObject().put("partitions", assignment), null)).getJsonArray("offsets");
                out().printf("%-30s %-10s %-16s %s%n", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET");
                for (int i = 0; i < planned.size(); i++) {
                    long was = current.getJsonObject(i).getLong("offset");
                    out().printf("%-30s %-10d %-16s %d%n", topic, i, was < 0 ? "-" : Long.toString(was),
                            planned.getJsonObject(i).getLong("offset"));
                }
                if (execute) {
                    client.post(instance + "/offsets", RestClient.V2, new JsonObject().put("offsets", planned));
                    out().printf("Committed the new offsets of group %s on %s%n", group, topic);
                } else {
                    out().println("Dry run: nothing committed; add --execute to commit these offsets");
                }
            } finally {
                try {
                    client.send("DELETE", instance, null, null, null);
                } catch (RestClient.ApiError e) {
                    // gone already; nothing to clean up
                }
            }
            return 0;
        }
    }
}

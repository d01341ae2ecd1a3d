package io.runnel.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code runnel topic create|list|describe|alter|delete}: topic administration through a running
 * broker's v3 API (and v2's offsets for describe).
 */
@Command(name = "topic", mixinStandardHelpOptions = true, description = "Create, list, describe, alter and delete topics.",
        subcommands = {TopicCommand.Create.class, TopicCommand.ListTopics.class, TopicCommand.Describe.class,
            TopicCommand.Alter.class, TopicCommand.Delete.class})
final class TopicCommand implements Runnable {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static String topicsPath(RestClient client) throws RestClient.ApiError {
        return "/v3/clusters/" + RestClient.encode(client.clusterId()) + "/topics";
    }

    /** {@code key=value} settings as v3's {@code [{"name","value"}]}. */
    static JsonArray configs(Map<String, String> settings) {
        JsonArray out = new JsonArray();
        settings.forEach((k, v) -> out.add(new JsonObject().put("name", k).put("value", v)));
        return out;
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a topic.")
    static final class Create extends BrokerUrl {
        @Parameters(paramLabel = "TOPIC")
        String topic;

        @Option(names = {"-p", "--partitions"}, description = "Partition count (default: the broker's num.partitions).")
        Integer partitions;

        @Option(names = {"-c", "--config"}, paramLabel = "KEY=VALUE",
                description = "A topic config, e.g. retention.ms=86400000 (repeatable).")
        Map<String, String> config = new LinkedHashMap<>();

        @Override
        int execute(RestClient client) throws RestClient.ApiError {
            JsonObject body = new JsonObject().put("topic_name", topic).put("configs", configs(config));
            if (partitions != null) {
                body.put("partitions_count", partitions);
            }
            JsonObject created = (JsonObject) client.post(topicsPath(client), RestClient.JSON, body);
            out().printf("Created topic %s with %d partition(s)%n", topic, created.getInteger("partitions_count"));
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List topics, one name a line.")
    static final class ListTopics extends BrokerUrl {
        @Option(names = "--internal", description = "Include internal topics such as __consumer_offsets.")
        boolean internal;

        @Override
        int execute(RestClient client) throws RestClient.ApiError {
            JsonArray topics = ((JsonObject) client.get(topicsPath(client))).getJsonArray("data");
            List<String> names = new ArrayList<>();
            for (Object t : topics) {
                JsonObject topic = (JsonObject) t;
                if (internal || !topic.getBoolean("is_internal", false)) {
                    names.add(topic.getString("topic_name"));
                }
            }
            names.stream().sorted().forEach(out()::println);
            return 0;
        }
    }

    @Command(name = "describe", mixinStandardHelpOptions = true,
            description = "Show a topic's partitions with their offsets, and its configs.")
    static final class Describe extends BrokerUrl {
        @Parameters(paramLabel = "TOPIC")
        String topic;

        @Override
        int execute(RestClient client) throws RestClient.ApiError {
            String t = RestClient.encode(topic);
            JsonObject v2 = (JsonObject) client.get("/topics/" + t);
            JsonArray partitions = v2.getJsonArray("partitions");
            out().printf("Topic: %s  Partitions: %d%n", topic, partitions.size());
            out().printf("%-10s %-8s %-16s %-16s%n", "PARTITION", "LEADER", "BEGINNING", "END");
            for (Object p : partitions) {
                JsonObject partition = (JsonObject) p;
                int id = partition.getInteger("partition");
                JsonObject offsets = (JsonObject) client.get("/topics/" + t + "/partitions/" + id + "/offsets");
                out().printf("%-10d %-8d %-16d %-16d%n", id, partition.getInteger("leader"),
                        offsets.getLong("beginning_offset"), offsets.getLong("end_offset"));
            }
            out().println("Configs:");
            v2.getJsonObject("configs").forEach(e -> out().printf("  %s=%s%n", e.getKey(), e.getValue()));
            return 0;
        }
    }

    @Command(name = "alter", mixinStandardHelpOptions = true,
            description = "Set or remove topic configs, or grow the partition count.")
    static final class Alter extends BrokerUrl {
        @Parameters(paramLabel = "TOPIC")
        String topic;

        @Option(names = {"-c", "--config"}, paramLabel = "KEY=VALUE", description = "Set a config (repeatable).")
        Map<String, String> set = new LinkedHashMap<>();

        @Option(names = "--delete-config", paramLabel = "KEY", description = "Return a config to its default (repeatable).")
        List<String> delete = new ArrayList<>();

        @Option(names = {"-p", "--partitions"}, description = "New, larger partition count.")
        Integer partitions;

        @Override
        int execute(RestClient client) throws RestClient.ApiError {
            if (set.isEmpty() && delete.isEmpty() && partitions == null) {
                err().println("Nothing to alter: give --config, --delete-config or --partitions");
                return 2;
            }
            String path = topicsPath(client) + "/" + RestClient.encode(topic);
            if (!set.isEmpty() || !delete.isEmpty()) {
                JsonArray data = new JsonArray();
                set.forEach((k, v) -> data.add(new JsonObject().put("name", k).put("value", v).put("operation", "SET")));
                delete.forEach(k -> data.add(new JsonObject().put("name", k).put("operation", "DELETE")));
                client.post(path + "/configs:alter", RestClient.JSON, new JsonObject().put("data", data));
            }
            if (partitions != null) {
                client.send("PATCH", path, RestClient.JSON, new JsonObject().put("partitions_count", partitions), null);
            }
            out().printf("Altered topic %s%n", topic);
            return 0;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a topic and its records.")
    static final class Delete extends BrokerUrl {
        @Parameters(paramLabel = "TOPIC")
        String topic;

        @Override
        int execute(RestClient client) throws RestClient.ApiError {
            client.send("DELETE", topicsPath(client) + "/" + RestClient.encode(topic), null, null, null);
            out().printf("Deleted topic %s%n", topic);
            return 0;
        }
    }
}

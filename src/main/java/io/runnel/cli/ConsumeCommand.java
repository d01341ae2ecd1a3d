package io.runnel.cli;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code runnel consume TOPIC}: prints records, one value a line, through a v2 consumer instance
 * that is deleted when the command ends.
 *
 * <ul>
 *   <li>Without {@code --group}: the command reads the partitions directly (a manual assignment in
 *       a throwaway group, committing nothing) from {@code --from}: {@code earliest} (default),
 *       {@code latest}, an offset, or a time (ISO-8601, e.g. {@code 2026-11-27T10:00:00Z}: the
 *       first record at or after it in each partition).</li>
 *   <li>With {@code --group G}: the command joins G like any consumer (partitions shared with the
 *       group's other members), starts where G committed, else at {@code --from} (earliest or
 *       latest), and commits what it printed (Kafka's auto-commit: on each read and at the end).</li>
 *   <li>Without {@code --follow} it stops once it has caught up: without a group, at the end
 *       offsets seen when it started (or when a read finds nothing before them: the rest was
 *       deleted meanwhile); with one, after a read finds nothing new. With {@code --follow} it
 *       runs until Ctrl-C. Either way it stops at {@code --max}, or when its output is closed.</li>
 * </ul>
 */
@Command(name = "consume", mixinStandardHelpOptions = true,
        description = "Print records of a topic, one value a line (see --from, --group, --follow).")
final class ConsumeCommand extends BrokerUrl {

    @Parameters(paramLabel = "TOPIC")
    String topic;

    @Option(names = "--from", defaultValue = "earliest", paramLabel = "earliest|latest|OFFSET|TIME",
            description = "Where to start: earliest (default), latest, an offset, or an ISO-8601 time.")
    String from;

    @Option(names = "--group", paramLabel = "GROUP", description = "Consume as a member of this consumer group, committing offsets.")
    String group;

    @Option(names = {"-f", "--follow"}, description = "Keep waiting for new records until Ctrl-C.")
    boolean follow;

    @Option(names = "--partition", description = "Read only this partition (not with --group).")
    Integer partition;

    @Option(names = "--max", description = "Stop after this many records.")
    Long max;

    @Option(names = "--print-key", description = "Print 'key:value' rather than the value alone.")
    boolean printKey;

    /** Ends the loop from outside (tests, or the shutdown hook). */
    volatile boolean stop;

    private long printed;

    @Override
    int execute(RestClient client) throws RestClient.ApiError {
        String t = RestClient.encode(topic);
        int partitions = ((JsonObject) client.get("/topics/" + t)).getJsonArray("partitions").size();
        boolean named = PartitionPosition.isNamed(from);
        if (!PartitionPosition.isValid(from)) {
            err().println("--from must be earliest, latest, an offset (0 or more) or an ISO-8601 time such as"
                    + " 2026-11-27T10:00:00Z, not '" + from + "'");
            return 2;
        }
        if (group != null && (!named || partition != null)) {
            err().println("With --group, --from is earliest or latest (where the group starts when it has no commit)"
                    + " and --partition is not allowed; move a group with 'runnel group reset-offsets'");
            return 2;
        }
        if (partition != null && (partition < 0 || partition >= partitions)) {
            err().printf("Topic %s has no partition %d (it has %d)%n", topic, partition, partitions);
            return 2;
        }
        String groupId = group != null ? group : "runnel-cli-" + UUID.randomUUID();
        JsonObject created = (JsonObject) client.post("/consumers/" + RestClient.encode(groupId), RestClient.V2,
                new JsonObject().put("format", "binary").put("auto.offset.reset", named ? from : "earliest")
                        .put("auto.commit.enable", group != null ? "true" : "false"));
        String instance = created.getString("base_uri").substring(client.base().length());
        Thread hook = new Thread(() -> {
            stop = true;
            deleteQuietly(client, instance);
        }, "runnel-consume-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            if (group != null) {
                client.post(instance + "/subscription", RestClient.V2,
                        new JsonObject().put("topics", new JsonArray().add(topic)));
                readGroup(client, instance);
            } else {
                readPartitions(client, instance, t, partitions);
            }
        } finally {
            deleteQuietly(client, instance);
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook is running
            }
        }
        out().flush();
        return 0;
    }

    /**
     * Reads as a member; the instance auto-commits its positions (on each read and when deleted),
     * so what a read handed out past {@code --max} is sought back to first, to stay unconsumed.
     */
    private void readGroup(RestClient client, String instance) throws RestClient.ApiError {
        boolean assigned = false;
        while (!stop && !done()) {
            Map<Integer, Long> unprinted = new HashMap<>();
            int n = print(read(client, instance), new HashMap<>(), unprinted);
            seek(client, instance, unprinted);
            if (!assigned) {
                assigned = !((JsonObject) client.get(instance + "/assignments")).getJsonArray("partitions").isEmpty();
            } else if (n == 0 && !follow) {
                return;
            }
        }
    }

    private void seek(RestClient client, String instance, Map<Integer, Long> offsets) throws RestClient.ApiError {
        if (offsets.isEmpty()) {
            return;
        }
        JsonArray seek = new JsonArray();
        offsets.forEach((p, o) -> seek.add(new JsonObject().put("topic", topic).put("partition", p).put("offset", o)));
        client.post(instance + "/positions", RestClient.V2, new JsonObject().put("offsets", seek));
    }

    private void readPartitions(RestClient client, String instance, String t, int count) throws RestClient.ApiError {
        JsonArray assignment = new JsonArray();
        Map<Integer, Long> end = new HashMap<>();
        Map<Integer, Long> position = new HashMap<>();
        JsonArray seek = new JsonArray();
        for (int p = 0; p < count; p++) {
            if (partition != null && p != partition) {
                continue;
            }
            assignment.add(new JsonObject().put("topic", topic).put("partition", p));
            PartitionPosition.Resolved resolved = PartitionPosition.resolve(client, t, p, from);
            long start = resolved.offset();
            seek.add(new JsonObject().put("topic", topic).put("partition", p).put("offset", start));
            end.put(p, resolved.end());
            position.put(p, start);
        }
        client.post(instance + "/assignments", RestClient.V2, new JsonObject().put("partitions", assignment));
        client.post(instance + "/positions", RestClient.V2, new JsonObject().put("offsets", seek));
        while (!stop && !done() && (follow || !caughtUp(position, end))) {
            // A read that finds nothing below the end seen at the start means the rest is gone
            // (compacted or deleted by retention meanwhile): caught up all the same.
            if (print(read(client, instance), position, new HashMap<>()) == 0 && !follow) {
                return;
            }
        }
    }

    private static boolean caughtUp(Map<Integer, Long> position, Map<Integer, Long> end) {
        return end.entrySet().stream().allMatch(e -> position.get(e.getKey()) >= e.getValue());
    }

    private boolean done() {
        return max != null && printed >= max;
    }

    private static JsonArray read(RestClient client, String instance) throws RestClient.ApiError {
        return (JsonArray) client.get(instance + "/records?timeout=1000", RestClient.BINARY_V2);
    }

    /**
     * Prints records up to --max; moves {@code position} past those printed, and notes in
     * {@code unprinted} each partition's first record left out; returns how many were read.
     */
    private int print(JsonArray records, Map<Integer, Long> position, Map<Integer, Long> unprinted) {
        Base64.Decoder base64 = Base64.getDecoder();
        for (Object o : records) {
            JsonObject r = (JsonObject) o;
            if (done()) {
                unprinted.putIfAbsent(r.getInteger("partition"), r.getLong("offset"));
                continue;
            }
            String value = text(base64, r.getString("value"));
            out().println(printKey ? text(base64, r.getString("key")) + ":" + value : value);
            printed++;
            position.put(r.getInteger("partition"), r.getLong("offset") + 1);
        }
        out().flush();
        if (out().checkError()) {
            stop = true; // nobody reads any more (say, '| head -1' has exited): nothing left to do
        }
        return records.size();
    }

    private static String text(Base64.Decoder base64, String encoded) {
        return encoded == null ? "null" : new String(base64.decode(encoded), StandardCharsets.UTF_8);
    }

    private static void deleteQuietly(RestClient client, String instance) {
        try {
            client.send("DELETE", instance, null, null, null);
        } catch (RestClient.ApiError e) {
            // already gone (deleted by the other path, or expired): nothing to clean up
        }
    }
}

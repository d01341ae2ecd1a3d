package io.runnel.api.ws;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import io.netty.handler.codec.http.QueryStringDecoder;

/**
 * What a subscribe socket asked for, read from its query string:
 * {@code from=earliest|latest|{offset}|timestamp:{ms}} (default latest: a live tail, Kafka's
 * {@code auto.offset.reset} default), {@code partitions=0,2} (default: every partition, or with a
 * group, the group's share), {@code format=json|binary} (default json), {@code group={id}}, and
 * {@code credit={n}}, our addition to DESIGN.md's list: the records the client grants before its
 * first {@code credit} frame. Without it credit is unlimited until that frame; with it a client
 * can start at zero without racing the first records.
 *
 * <p>{@code from} says where a partition starts when nothing else does: with a group, a partition
 * the group has committed resumes from the committed offset. {@code partitions} with
 * {@code group} reads exactly those partitions and commits to the group without joining it
 * (Kafka's {@code assign()}). Any other parameter, a repeated one, or a value that cannot be read
 * is a 400. Immutable.
 */
record SubscribeRequest(String topic, From from, List<Integer> partitions, Frames.Format format, String group,
                        Long initialCredit) {

    /** Kafka's limit on a group id is the topic name rule's length; a longer one is surely a mistake. */
    static final int GROUP_ID_MAX_CHARS = 249;

    private static final Set<String> SUBSCRIBE_PARAMS = Set.of("from", "partitions", "format", "group", "credit");
    private static final Set<String> PRODUCE_PARAMS = Set.of("format");

    /** Where to start a partition without a committed offset. */
    enum Start { EARLIEST, LATEST, OFFSET, TIMESTAMP }

    /** {@code value} is the offset for OFFSET, the milliseconds for TIMESTAMP, unused otherwise. */
    record From(Start start, long value) {
        static From parse(String raw) {
            if (raw.equals("earliest")) {
                return new From(Start.EARLIEST, 0);
            }
            if (raw.equals("latest")) {
                return new From(Start.LATEST, 0);
            }
            if (raw.startsWith("timestamp:")) {
                return new From(Start.TIMESTAMP, number(raw.substring("timestamp:".length()), "from=timestamp:{ms}", raw));
            }
            return new From(Start.OFFSET, number(raw, "from", raw));
        }
    }

    static SubscribeRequest parse(String topic, String query) {
        Map<String, String> params = params(query, SUBSCRIBE_PARAMS);
        From from = params.containsKey("from") ? From.parse(params.get("from")) : new From(Start.LATEST, 0);
        List<Integer> partitions = params.containsKey("partitions") ? partitions(params.get("partitions")) : null;
        Frames.Format format = params.containsKey("format") ? Frames.Format.parse(params.get("format")) : Frames.Format.JSON;
        String group = params.get("group");
        if (group != null && (group.isBlank() || group.length() > GROUP_ID_MAX_CHARS)) {
            throw new WsException(WsErrorCodes.BAD_REQUEST, "Query parameter group must be a group id of 1 to "
                    + GROUP_ID_MAX_CHARS + " characters, not '" + group + "'");
        }
        Long initialCredit = params.containsKey("credit") ? number(params.get("credit"), "credit", params.get("credit")) : null;
        return new SubscribeRequest(topic, from, partitions, format, group, initialCredit);
    }

    /** The format a produce socket's query asks for (its only parameter). */
    static Frames.Format produceFormat(String query) {
        Map<String, String> params = params(query, PRODUCE_PARAMS);
        return params.containsKey("format") ? Frames.Format.parse(params.get("format")) : Frames.Format.JSON;
    }

    private static Map<String, String> params(String query, Set<String> allowed) {
        Map<String, String> out = new LinkedHashMap<>();
        if (query == null || query.isEmpty()) {
            return out;
        }
        QueryStringDecoder decoded = new QueryStringDecoder(query, false);
        for (Map.Entry<String, List<String>> e : decoded.parameters().entrySet()) {
            if (!allowed.contains(e.getKey())) {
                throw new WsException(WsErrorCodes.BAD_REQUEST, "Unknown query parameter '" + e.getKey() + "': expected "
                        + new TreeSet<>(allowed));
            }
            if (e.getValue().size() != 1) {
                throw new WsException(WsErrorCodes.BAD_REQUEST, "Query parameter " + e.getKey() + " is given "
                        + e.getValue().size() + " times; give it once");
            }
            out.put(e.getKey(), e.getValue().get(0));
        }
        return out;
    }

    private static List<Integer> partitions(String raw) {
        TreeSet<Integer> out = new TreeSet<>();
        for (String part : raw.split(",", -1)) {
            out.add((int) Math.min(Integer.MAX_VALUE, number(part.trim(), "partitions", raw)));
        }
        return new ArrayList<>(out);
    }

    private static long number(String text, String param, String raw) {
        long n;
        try {
            n = Long.parseLong(text);
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 0) {
            throw new WsException(WsErrorCodes.BAD_REQUEST, "Query parameter " + param + " has '" + raw
                    + "': expected " + switch (param) {
                        case "partitions" -> "partition numbers from 0, separated by commas";
                        case "from" -> "earliest, latest, an offset (a whole number from 0) or timestamp:{ms}";
                        case "credit" -> "a number of records (a whole number from 0)";
                        default -> "milliseconds since the epoch (a whole number from 0)";
                    });
        }
        return n;
    }
}

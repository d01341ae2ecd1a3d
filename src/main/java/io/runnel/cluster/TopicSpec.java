package io.runnel.cluster;

import java.util.Map;
import java.util.TreeMap;

import io.vertx.core.json.JsonObject;

/** A topic as the cluster knows it: its partition count and config overrides (Kafka's names). */
public record TopicSpec(String name, int partitions, Map<String, String> configs) {

    public TopicSpec {
        configs = Map.copyOf(configs);
    }

    public String toJson() {
        JsonObject c = new JsonObject();
        new TreeMap<>(configs).forEach(c::put);
        return new JsonObject().put("name", name).put("partitions", partitions).put("configs", c).encode();
    }

    public static TopicSpec fromJson(String json) {
        JsonObject o = new JsonObject(json);
        Map<String, String> configs = new TreeMap<>();
        o.getJsonObject("configs").forEach(e -> configs.put(e.getKey(), String.valueOf(e.getValue())));
        return new TopicSpec(o.getString("name"), o.getInteger("partitions"), configs);
    }
}

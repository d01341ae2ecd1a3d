package io.runnel.cluster;

import io.vertx.core.json.JsonObject;

/**
 * A broker as the cluster advertises it: its id, the addresses clients reach it at, and the
 * Hazelcast member it runs in (how liveness is decided: a broker is live while its member is).
 */
public record BrokerInfo(int id, String host, int kafkaPort, int httpPort, int registryPort, String memberId) {

    public String toJson() {
        return new JsonObject().put("id", id).put("host", host).put("kafkaPort", kafkaPort).put("httpPort", httpPort)
                .put("registryPort", registryPort).put("memberId", memberId).encode();
    }

    public static BrokerInfo fromJson(String json) {
        JsonObject o = new JsonObject(json);
        return new BrokerInfo(o.getInteger("id"), o.getString("host"), o.getInteger("kafkaPort"),
                o.getInteger("httpPort"), o.getInteger("registryPort"), o.getString("memberId"));
    }
}

package io.runnel.api.kafka;

import java.util.EnumMap;
import java.util.Map;

import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;

/**
 * The Kafka APIs this listener serves and their version ranges: exactly what ApiVersions
 * advertises, and what a request is checked against before it is parsed. An API is listed only
 * once it is implemented (Kafka clients pick the highest common version, so advertising a version
 * is a promise).
 *
 * <p>Each range starts at the oldest version kafka-clients 4.x still knows, and ends below the
 * versions that address topics by id (Produce 13, Fetch 13, Metadata 13, OffsetCommit 10,
 * OffsetFetch 10) or add batched forms we do not parse yet (OffsetFetch 8+ with several groups):
 * clients then speak topic names, which every part of this broker understands.
 */
final class SupportedApis {

    private static final Map<ApiKeys, short[]> RANGES = new EnumMap<>(ApiKeys.class);

    static {
        range(ApiKeys.API_VERSIONS, 0, 4);
        range(ApiKeys.METADATA, 0, 12);
        range(ApiKeys.PRODUCE, 3, 11);
        range(ApiKeys.FETCH, 4, 12);
        range(ApiKeys.LIST_OFFSETS, 1, 8);
        range(ApiKeys.OFFSET_FOR_LEADER_EPOCH, 2, 4);
        range(ApiKeys.INIT_PRODUCER_ID, 0, 5);
        range(ApiKeys.FIND_COORDINATOR, 0, 6);
        range(ApiKeys.JOIN_GROUP, 0, 9);
        range(ApiKeys.SYNC_GROUP, 0, 5);
        range(ApiKeys.HEARTBEAT, 0, 4);
        range(ApiKeys.LEAVE_GROUP, 0, 5);
        range(ApiKeys.OFFSET_COMMIT, 2, 9);
        range(ApiKeys.OFFSET_FETCH, 1, 7);
        range(ApiKeys.LIST_GROUPS, 0, 5);
        range(ApiKeys.DESCRIBE_GROUPS, 0, 5);
        range(ApiKeys.DELETE_GROUPS, 0, 2);
        range(ApiKeys.CREATE_TOPICS, 2, 7);
        range(ApiKeys.DELETE_TOPICS, 1, 5);
        range(ApiKeys.CREATE_PARTITIONS, 0, 3);
        range(ApiKeys.DESCRIBE_CONFIGS, 1, 4);
        range(ApiKeys.INCREMENTAL_ALTER_CONFIGS, 0, 1);
        range(ApiKeys.DESCRIBE_CLUSTER, 0, 1);
        range(ApiKeys.DELETE_RECORDS, 0, 2);
        range(ApiKeys.ALTER_CONFIGS, 0, 2);
        range(ApiKeys.OFFSET_DELETE, 0, 0);
        range(ApiKeys.DESCRIBE_PRODUCERS, 0, 0);
    }

    private SupportedApis() {
    }

    private static void range(ApiKeys api, int min, int max) {
        if (min < api.oldestVersion() || max > api.latestVersion()) {
            throw new IllegalStateException(api + " " + min + ".." + max + " is outside kafka-clients' "
                    + api.oldestVersion() + ".." + api.latestVersion());
        }
        RANGES.put(api, new short[] {(short) min, (short) max});
    }

    static boolean supports(ApiKeys api, short version) {
        short[] range = RANGES.get(api);
        return range != null && version >= range[0] && version <= range[1];
    }

    /** Built once: every ApiVersions answer serializes the same (never modified) collection. */
    private static final ApiVersionsResponseData.ApiVersionCollection VERSIONS = buildVersions();

    /** The ranges as ApiVersions answers them; shared, so callers must not modify it. */
    static ApiVersionsResponseData.ApiVersionCollection versions() {
        return VERSIONS;
    }

    private static ApiVersionsResponseData.ApiVersionCollection buildVersions() {
        ApiVersionsResponseData.ApiVersionCollection out = new ApiVersionsResponseData.ApiVersionCollection();
        RANGES.forEach((api, range) -> out.add(new ApiVersionsResponseData.ApiVersion()
                .setApiKey(api.id).setMinVersion(range[0]).setMaxVersion(range[1])));
        return out;
    }
}

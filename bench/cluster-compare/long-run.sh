#!/usr/bin/env bash
# The cluster benchmark's tools run longer and twice on one cluster, to see a broker past its JIT
# warm-up: the cold figures run.sh reports, then the same tools again on the same, now warm, brokers.
#
#   bench/cluster-compare/long-run.sh                          # Runnel with bin/runnel's JVM options
#   RUNNEL_JAVA_OPTS="-Xms64m -Xmx256m" bench/cluster-compare/long-run.sh  # other JVM options (here: with C2)
#   CLUSTERS="kafka runnel" ROUNDS=2 N_PERF=600000 bench/cluster-compare/long-run.sh
#
# Per round and cluster, on fresh data: one-partition topics with replication factor 3 and
# min.insync.replicas=2; produce N_PERF (default 500,000) 1 KiB records with acks=all (cold); the
# end-to-end latency loop over N_LAT (default 10,000) records (cold); the latency loop again (warm);
# produce N_PERF records again (warm). One line per round in target/cluster-compare/long-run.tsv:
#   which round produce_cold_rec_s p99_cold_ms p99_warm_ms produce_warm_rec_s rss_total_kB
# Brokers are stopped by the PIDs this script started.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=common.sh
source "$ROOT/bench/cluster-compare/common.sh"
ROUNDS="${ROUNDS:-1}"
N_PERF="${N_PERF:-500000}"
N_LAT="${N_LAT:-10000}"
OUT="$ROOT/target/cluster-compare"
mkdir -p "$OUT"
cc_setup
(cd "$ROOT" && mvn -B -q -o package -DskipTests >&2)

RUN_DIR=""
cleanup() { stop_all; [ -n "$RUN_DIR" ] && rm -rf "$RUN_DIR"; return 0; }
trap cleanup EXIT

: > "$OUT/long-run.tsv"
for round in $(seq 1 "$ROUNDS"); do
    for which in ${CLUSTERS:-runnel}; do
        RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/cluster-long.XXXXXX")"
        if [ "$which" = kafka ]; then kafka_prepare "$RUN_DIR"; else runnel_prepare "$RUN_DIR"; fi
        start_all
        sleep 3
        create_topic perf; create_topic latency
        sleep 2
        p1="$(produce perf "$N_PERF" || true)"
        l1="$(latency_p99 latency || true)"
        l2="$(latency_p99 latency || true)"
        p2="$(produce perf "$N_PERF" || true)"
        rss="$(rss_kb | cut -d' ' -f1)"
        stop_all
        cp "$RUN_DIR/tools.log" "$OUT/long-run-tools-$which-$round.log" 2>/dev/null || true
        rm -rf "$RUN_DIR"; RUN_DIR=""
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$which" "$round" "$p1" "$l1" "$l2" "$p2" "$rss" \
            | tee -a "$OUT/long-run.tsv"
    done
done

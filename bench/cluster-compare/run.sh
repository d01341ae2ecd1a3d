#!/usr/bin/env bash
# A three-broker Runnel cluster next to a three-broker Apache Kafka 4.3.1 cluster, same client tools,
# same run, all on loopback.
#
#   bench/cluster-compare/run.sh                    # 3 rounds (default), full sizes
#   ROUNDS=1 SCALE=10 bench/cluster-compare/run.sh  # a quick check: one round, a tenth of the records
#   CLUSTERS=runnel KEEP_DATA=1 ...                 # only one of the two; keep data dirs and broker logs
#
# Each round starts, one cluster at a time, each on fresh data directories:
#   - Apache Kafka 4.3.1: KRaft, three combined broker+controller nodes (static voters), 512 MiB heaps;
#   - Runnel: three `bin/runnel server --cluster` brokers (Hazelcast membership), bin/runnel's heap
#     (-Xms64m -Xmx256m -XX:TieredStopAtLevel=1; RUNNEL_JAVA_OPTS overrides);
# creates two one-partition topics with replication factor 3 and min.insync.replicas=2, and runs
# Kafka's own tools against the cluster:
#   - ProducerPerformance, 1 KiB records, acks=all, 100,000 / SCALE records   (replicated produce throughput)
#   - end-to-end latency, 1 KiB records, acks=all, 10,000 / SCALE records     (end-to-end p99)
#     measured by io.runnel.bench.E2eLatency (src/test/java): Kafka's EndToEndLatency loop (send one
#     record synchronously, poll until it is back) with the consumer on assign() and no group, because
#     Kafka's tool ends with a group offset commit, which a Runnel cluster cannot serve yet (its
#     FindCoordinator names every broker as coordinator of every group; see bench/RESULTS.md)
#   - the three brokers' RSS after the runs (ps -o rss, summed)
# It prints a table of medians and the ratio Runnel / Kafka, and writes it to
# target/cluster-compare/results.md (raw figures: raw.tsv). Kafka's jars are those that
# bench/kafka-compare/run.sh fetches from Maven Central into bench/kafka-compare/target/lib.
# Brokers are stopped by the PIDs this script started (SIGTERM, SIGKILL after 30 s).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=common.sh
source "$ROOT/bench/cluster-compare/common.sh"
ROUNDS="${ROUNDS:-3}"
SCALE="${SCALE:-1}"
OUT="$ROOT/target/cluster-compare"
mkdir -p "$OUT"
cc_setup
(cd "$ROOT" && mvn -B -q -o package -DskipTests >&2)

N_PERF=$((100000 / SCALE))
N_LAT=$((10000 / SCALE))
RUN_DIR=""
cleanup() { stop_all; [ -n "$RUN_DIR" ] && [ -z "${KEEP_DATA:-}" ] && rm -rf "$RUN_DIR"; return 0; }
trap cleanup EXIT

load1() { cut -d' ' -f1 /proc/loadavg; }

run_one() { # $1 kafka|runnel $2 round -> appends a line to $OUT/raw.tsv
    local which="$1" round="$2" p lat rss l0 l1
    RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/cluster-compare.XXXXXX")"
    START_RETRIES=0
    l0="$(load1)"
    if [ "$which" = kafka ]; then kafka_prepare "$RUN_DIR"; else runnel_prepare "$RUN_DIR"; fi
    start_all
    sleep 3
    create_topic perf; create_topic latency
    sleep 2
    p="$(produce perf "$N_PERF" || true)"
    lat="$(latency_p99 latency || true)"
    rss="$(rss_kb)"
    l1="$(load1)"
    describe_topic perf >> "$RUN_DIR/tools.log" 2>&1 || true
    stop_all
    cp "$RUN_DIR/tools.log" "$OUT/tools-$which-$round.log" 2>/dev/null || true
    if [ -n "${KEEP_DATA:-}" ]; then echo "data and logs kept in $RUN_DIR" >&2; else rm -rf "$RUN_DIR"; fi
    RUN_DIR=""
    # which round produce_rec_s e2e_p99_ms rss_total_kB rss1 rss2 rss3 load_before load_after start_retries
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$which" "$round" "$p" "$lat" "$(echo "$rss" | tr ' ' '\t')" \
        "$l0" "$l1" "$START_RETRIES" | tee -a "$OUT/raw.tsv" >&2
}

: > "$OUT/raw.tsv"
for round in $(seq 1 "$ROUNDS"); do
    for which in ${CLUSTERS:-kafka runnel}; do run_one "$which" "$round"; done
done

python3 - "$OUT/raw.tsv" "$N_PERF" "$N_LAT" > "$OUT/results.md" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
def med(which, col):
    vals = [float(r[col]) for r in rows if r[0] == which and r[col]]
    return statistics.median(vals) if vals else float("nan")
names = [(f"produce 1 KiB, acks=all, RF=3 (records/s; {int(sys.argv[2]):,} records)", 2, "≥ 1.0"),
         (f"end-to-end p99, 1 KiB, acks=all (ms; {int(sys.argv[3]):,} records)", 3, "≤ 0.7"),
         ("RSS of the three brokers (MB, sum)", 4, ""),
         ("RSS per broker (MB, mean)", None, "")]
print("| measure | Apache Kafka 4.3.1 (3 brokers) | Runnel (3 brokers) | Runnel / Kafka | target |")
print("|---|---:|---:|---:|---|")
for name, col, target in names:
    if col is None:
        k, r = med("kafka", 4) / 3 / 1024, med("runnel", 4) / 3 / 1024
    else:
        k, r = med("kafka", col), med("runnel", col)
        if col == 4:
            k, r = k / 1024, r / 1024
    print(f"| {name} | {k:,.1f} | {r:,.1f} | {r / k:.2f} | {target} |")
loads = [float(x) for r in rows for x in (r[8], r[9])]
print(f"\nMedians of {len({r[1] for r in rows})} round(s); raw figures in target/cluster-compare/raw.tsv "
      f"(load average while running: {min(loads):.1f} to {max(loads):.1f}).")
EOF
cat "$OUT/results.md"

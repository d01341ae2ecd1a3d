#!/usr/bin/env bash
# Failover: a three-broker cluster, a producer sending continuously to a one-partition topic
# (replication factor 3, min.insync.replicas=2), the partition's leader killed with SIGKILL; the time
# from the kill to the first acknowledged produce after it. Runnel, then Apache Kafka 4.3.1, in the
# same run, on loopback.
#
#   bench/cluster-compare/failover.sh                  # 10 kills per cluster
#   ITERATIONS=3 bench/cluster-compare/failover.sh     # a quick check
#   CLUSTERS=kafka ITERATIONS=3 ...                    # only one of the two (default: "runnel kafka")
#
# The load runner is io.runnel.bench.FailoverLoad (src/test/java; see its header). It starts the
# three brokers itself from the commands this script writes into a spec file (the same brokers as
# bench/cluster-compare/run.sh: Runnel `bin/runnel server --cluster`, Kafka KRaft with three
# combined broker+controller nodes and 512 MiB heaps), runs Kafka's Java producer (acks=all,
# idempotent, one 1 KiB record every 2 ms), and ITERATIONS times: waits for the ISR to hold all three
# replicas, kills the leader (SIGKILL, by the PID it started), times the first acknowledgement of a
# record sent after the kill, restarts the killed broker on its data and waits until the ISR holds
# three again (AdminClient describeTopics). Figures: target/cluster-compare/failover.tsv and
# failover.md; each run's output in failover-<cluster>.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=common.sh
source "$ROOT/bench/cluster-compare/common.sh"
ITERATIONS="${ITERATIONS:-10}"
INTERVAL_MS="${INTERVAL_MS:-2}"
OUT="$ROOT/target/cluster-compare"
mkdir -p "$OUT"
cc_setup
(cd "$ROOT" && mvn -B -q -o package -DskipTests >&2)

RUN_DIR=""
PIDS_FILE=""
cleanup() { # brokers FailoverLoad started, if it could not stop them itself
    if [ -n "$PIDS_FILE" ] && [ -f "$PIDS_FILE" ]; then
        while read -r pid; do
            # only a broker of this run (its command line names the run's directory), in case the PID was reused
            if [ -n "$pid" ] && { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -qF "$RUN_DIR"; then
                kill -9 "$pid" 2>/dev/null || true
            fi
        done < "$PIDS_FILE"
    fi
    [ -n "$RUN_DIR" ] && [ -z "${KEEP_DATA:-}" ] && rm -rf "$RUN_DIR"
    return 0
}
trap cleanup EXIT

run_one() { # $1 runnel|kafka
    local which="$1" i ready
    RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/cluster-failover.XXXXXX")"
    PIDS_FILE="$RUN_DIR/pids"
    if [ "$which" = kafka ]; then kafka_prepare "$RUN_DIR"; ready=port; else runnel_prepare "$RUN_DIR"; ready="log:Runnel is running"; fi
    : > "$RUN_DIR/spec.tsv"
    for i in 1 2 3; do
        printf '%s\t%s\t%s\t%s\t%s\n' "$i" "${BROKER_PORTS[$i]}" "${BROKER_LOGS[$i]}" "$ready" "${BROKER_CMDS[$i]#exec }" \
            >> "$RUN_DIR/spec.tsv"
    done
    echo "$which: $(date -u '+%F %T') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    timeout $((ITERATIONS * 400 + 600)) java -Xmx512m -Dorg.slf4j.simpleLogger.defaultLogLevel=error \
        -cp "$ROOT/target/test-classes:$ROOT/target/lib/*" io.runnel.bench.FailoverLoad \
        --spec "$RUN_DIR/spec.tsv" --label "$which" --iterations "$ITERATIONS" --interval-ms "$INTERVAL_MS" \
        --record-bytes 1024 --pids-file "$PIDS_FILE" --out "$OUT/failover.tsv" 2>&1 | tee "$OUT/failover-$which.txt" >&2
    cleanup
    if [ -n "${KEEP_DATA:-}" ]; then echo "data and logs kept in $RUN_DIR" >&2; fi
    RUN_DIR=""; PIDS_FILE=""
}

: > "$OUT/failover.tsv"
for which in ${CLUSTERS:-runnel kafka}; do
    run_one "$which"
done

python3 - "$OUT/failover.tsv" > "$OUT/failover.md" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
print("| cluster | kills | failover median (ms) | max (ms) | min (ms) | no ack within 180 s | ISR back to 3 after restart, median (s) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for which in dict.fromkeys(r[0] for r in rows):
    f = [float(r[4]) for r in rows if r[0] == which]
    j = [float(r[5]) / 1000 for r in rows if r[0] == which]
    f = [float("inf") if x != x else x for x in f]  # older rows wrote NaN for "no acknowledgement"
    stuck = sum(1 for x in f if x == float("inf"))
    print(f"| {which} | {len(f)} | {statistics.median(f):,.0f} | {max(f):,.0f} | {min(f):,.0f} | {stuck} | {statistics.median(j):.1f} |")
print("\nFailover: from just before the SIGKILL of the partition's leader to the first acknowledgement (acks=all)"
      " of a record sent after it. Per kill: target/cluster-compare/failover.tsv.")
EOF
cat "$OUT/failover.md"

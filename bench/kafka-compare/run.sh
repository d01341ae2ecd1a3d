#!/usr/bin/env bash
# Runnel and Apache Kafka side by side, same client tools, same run, on loopback.
#
#   bench/kafka-compare/run.sh            # 3 rounds (default), full sizes
#   ROUNDS=1 SCALE=10 bench/kafka-compare/run.sh   # a quick check: one round, a tenth of the records
#
# Each round starts Apache Kafka 4.3.1 (KRaft, single node, 1 GiB heap) and then Runnel (bin/runnel
# server, the embedded default), one at a time, each on a fresh data directory, and runs Kafka's own
# tools against it:
#   - ProducerPerformance, 100-byte records, acks=1            (produce throughput)
#   - ProducerPerformance, 1 KiB records, acks=all             (durable produce throughput)
#   - ConsumerPerformance over the 100-byte topic              (consume throughput)
#   - EndToEndLatency, 100-byte records, acks=1                (end-to-end p99)
#   - the broker's RSS after the runs                           (ps -o rss)
# It prints a table of medians and the ratio Runnel / Kafka, and writes it to
# target/kafka-compare/results.md. Kafka comes from Maven Central through bench/kafka-compare/pom.xml;
# nothing of it is committed. Brokers are stopped by the PID this script started.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/bench/kafka-compare"
ROUNDS="${ROUNDS:-3}"
SCALE="${SCALE:-1}"
OUT="$ROOT/target/kafka-compare"
mkdir -p "$OUT"
LIB="$HERE/target/lib"

if [ ! -d "$LIB" ]; then
    echo "Fetching Apache Kafka 4.3.1 from Maven Central ..." >&2
    mvn -B -q -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory=target/lib >&2
fi
(cd "$ROOT" && mvn -B -q package -DskipTests >&2)

CP="$LIB/*"
N_SMALL=$((2000000 / SCALE))
N_LARGE=$((300000 / SCALE))
N_LAT=$((20000 / SCALE))

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
    for _ in $(seq 1 120); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.5
    done
    echo "nothing listens on port $1" >&2
    return 1
}

start_kafka() { # $1 data dir -> sets BROKER_PID, BOOTSTRAP
    local dir="$1" port cport
    port="$(free_port)"; cport="$(free_port)"
    mkdir -p "$dir"
    cat > "$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/logs
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    java -cp "$CP" kafka.tools.StorageTool format --standalone -t "$(java -cp "$CP" kafka.tools.StorageTool random-uuid)" \
        -c "$dir/server.properties" > "$dir/format.log" 2>&1
    java -Xms1g -Xmx1g -cp "$CP" kafka.Kafka "$dir/server.properties" > "$dir/broker.log" 2>&1 &
    BROKER_PID=$!
    BOOTSTRAP="127.0.0.1:$port"
    wait_port "$port"
    sleep 3
}

start_runnel() { # $1 data dir -> sets BROKER_PID, BOOTSTRAP
    local dir="$1" port
    port="$(free_port)"
    mkdir -p "$dir"
    "$ROOT/bin/runnel" server --data.dir="$dir/data" --kafka.port="$port" --http.port=0 --registry.port=0 --bridge.port=0 \
        --group.initial.rebalance.delay.ms=0 > "$dir/broker.log" 2>&1 &
    BROKER_PID=$!
    BOOTSTRAP="127.0.0.1:$port"
    wait_port "$port"
    sleep 1
}

stop_broker() {
    kill "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$BROKER_PID" 2>/dev/null || return 0; sleep 0.5; done
    kill -9 "$BROKER_PID" 2>/dev/null || true
}

create_topic() { # $1 topic
    java -cp "$CP" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --create --topic "$1" \
        --partitions 1 --replication-factor 1 > /dev/null
}

produce() { # $1 topic $2 records $3 size $4 acks -> records/s
    java -cp "$CP" org.apache.kafka.tools.ProducerPerformance --topic "$1" --num-records "$2" --record-size "$3" \
        --throughput -1 --producer-props bootstrap.servers="$BOOTSTRAP" acks="$4" linger.ms=5 batch.size=65536 \
        | tail -1 | sed -n 's/.*records sent, \([0-9.]*\) records\/sec.*/\1/p'
}

consume() { # $1 topic $2 records -> records/s
    java -cp "$CP" org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$BOOTSTRAP" --topic "$1" \
        --messages "$2" --timeout 60000 | tail -1 | awk -F', ' '{print $6}'
}

latency_p99() { # $1 topic -> p99 ms
    java -cp "$CP" org.apache.kafka.tools.EndToEndLatency "$BOOTSTRAP" "$1" "$N_LAT" 1 100 \
        | sed -n 's/.*99th = \([0-9.]*\).*/\1/p'
}

run_one() { # $1 kafka|runnel $2 round -> appends a line to $OUT/raw.tsv
    local which="$1" round="$2" dir
    dir="$(mktemp -d)"
    if [ "$which" = kafka ]; then start_kafka "$dir"; else start_runnel "$dir"; fi
    create_topic small; create_topic large; create_topic latency
    local p100 p1k c lat rss
    p100="$(produce small "$N_SMALL" 100 1)"
    p1k="$(produce large "$N_LARGE" 1024 all)"
    c="$(consume small "$N_SMALL")"
    lat="$(latency_p99 latency)"
    rss="$(ps -o rss= -p "$BROKER_PID" | tr -d ' ')"
    stop_broker
    rm -rf "$dir"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$which" "$round" "$p100" "$p1k" "$c" "$lat" "$rss" | tee -a "$OUT/raw.tsv" >&2
}

: > "$OUT/raw.tsv"
for round in $(seq 1 "$ROUNDS"); do
    run_one kafka "$round"
    run_one runnel "$round"
done

python3 - "$OUT/raw.tsv" > "$OUT/results.md" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
def med(which, col):
    vals = [float(r[col]) for r in rows if r[0] == which and r[col]]
    return statistics.median(vals) if vals else float("nan")
names = [("produce 100 B, acks=1 (records/s)", 2), ("produce 1 KiB, acks=all (records/s)", 3),
         ("consume (records/s)", 4), ("end-to-end p99 (ms)", 5), ("broker RSS (MB)", 6)]
print("| measure | Apache Kafka 4.3.1 | Runnel | Runnel / Kafka |")
print("|---|---:|---:|---:|")
for name, col in names:
    k, r = med("kafka", col), med("runnel", col)
    if col == 6:
        k, r = k / 1024, r / 1024
    print(f"| {name} | {k:,.1f} | {r:,.1f} | {r / k:.2f} |")
print(f"\nMedians of {len({r[1] for r in rows})} round(s); raw figures in target/kafka-compare/raw.tsv.")
EOF
cat "$OUT/results.md"

# Shared by bench/cluster-compare/run.sh and failover.sh (sourced, not run): starting and stopping a
# three-broker Apache Kafka 4.3.1 cluster (KRaft, three combined broker+controller nodes) and a
# three-broker Runnel cluster (bin/runnel server --cluster), all on 127.0.0.1.
#
# Every broker is a child of the calling script; it is stopped by the PID recorded here, never by
# name. Callers set ROOT and call cc_setup first.

cc_setup() {
    KC_HERE="$ROOT/bench/kafka-compare"
    LIB="$KC_HERE/target/lib"
    if [ ! -d "$LIB" ]; then
        echo "Fetching Apache Kafka 4.3.1 from Maven Central ..." >&2
        mvn -B -q -f "$KC_HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory=target/lib >&2
    fi
    CP="$LIB/*"
    KAFKA_HEAP="${KAFKA_HEAP:--Xms512m -Xmx512m}"
    # bin/runnel's own default (-Xms64m -Xmx256m -XX:TieredStopAtLevel=1) unless RUNNEL_JAVA_OPTS is set by the caller.
    BROKER_PIDS=()
    BROKER_CMDS=()
    BROKER_LOGS=()
    BROKER_PORTS=()
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() { # $1 port [$2 half-seconds]
    for _ in $(seq 1 "${2:-240}"); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.5
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# Prepares (but does not start) three Kafka nodes under $1. Sets BROKER_CMDS, BROKER_LOGS,
# BROKER_PORTS (index 1..3 = node.id), BOOTSTRAP.
kafka_prepare() {
    KIND=kafka
    local dir="$1" i voters="" cports=() ports=() uuid
    for i in 1 2 3; do ports[$i]="$(free_port)"; cports[$i]="$(free_port)"; done
    for i in 1 2 3; do voters="${voters:+$voters,}$i@127.0.0.1:${cports[$i]}"; done
    uuid="$(java -cp "$CP" kafka.tools.StorageTool random-uuid)"
    BOOTSTRAP=""
    for i in 1 2 3; do
        mkdir -p "$dir/kafka$i"
        cat > "$dir/kafka$i/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${ports[$i]},CONTROLLER://127.0.0.1:${cports[$i]}
advertised.listeners=PLAINTEXT://127.0.0.1:${ports[$i]}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/kafka$i/logs
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
group.initial.rebalance.delay.ms=0
EOF
        java -cp "$CP" kafka.tools.StorageTool format -t "$uuid" -c "$dir/kafka$i/server.properties" \
            > "$dir/kafka$i/format.log" 2>&1
        BROKER_CMDS[$i]="exec java $KAFKA_HEAP -cp '$CP' kafka.Kafka '$dir/kafka$i/server.properties'"
        BROKER_LOGS[$i]="$dir/kafka$i/broker.log"
        BROKER_PORTS[$i]="${ports[$i]}"
        BOOTSTRAP="${BOOTSTRAP:+$BOOTSTRAP,}127.0.0.1:${ports[$i]}"
    done
}

# Prepares three Runnel brokers under $1 (broker.id 1..3), the same way.
runnel_prepare() {
    KIND=runnel
    local dir="$1" i members="" cl=() ports=()
    for i in 1 2 3; do ports[$i]="$(free_port)"; cl[$i]="$(free_port)"; done
    for i in 1 2 3; do members="${members:+$members,}127.0.0.1:${cl[$i]}"; done
    BOOTSTRAP=""
    for i in 1 2 3; do
        mkdir -p "$dir/runnel$i"
        BROKER_CMDS[$i]="exec '$ROOT/bin/runnel' server --cluster --broker.id=$i --data.dir='$dir/runnel$i/data' \
--listeners.host=127.0.0.1 --kafka.port=${ports[$i]} --http.port=$(free_port) --registry.port=$(free_port) \
--bridge.port=$(free_port) --cluster.port=${cl[$i]} --cluster.members=$members \
--group.initial.rebalance.delay.ms=0 --min.insync.replicas=2"
        BROKER_LOGS[$i]="$dir/runnel$i/broker.log"
        BROKER_PORTS[$i]="${ports[$i]}"
        BOOTSTRAP="${BOOTSTRAP:+$BOOTSTRAP,}127.0.0.1:${ports[$i]}"
    done
}

start_node() { # $1 index
    bash -c "${BROKER_CMDS[$1]}" >> "${BROKER_LOGS[$1]}" 2>&1 &
    BROKER_PIDS[$1]=$!
}

is_ready() { # $1 index: Runnel prints "Runnel is running" once it serves; Kafka: its port answers
    if [ "$KIND" = runnel ]; then
        grep -q "Runnel is running" "${BROKER_LOGS[$1]}" 2>/dev/null
    else
        (exec 3<>"/dev/tcp/127.0.0.1/${BROKER_PORTS[$1]}") 2>/dev/null
    fi
}

wait_ready() { # $1 index $2 seconds: waits; a broker that exits before it is ready is started again (twice at most)
    local i="$1" left=$(( ${2:-180} * 2 )) restarts=0
    while [ "$left" -gt 0 ]; do
        is_ready "$i" && return 0
        if ! kill -0 "${BROKER_PIDS[$i]}" 2>/dev/null; then
            wait "${BROKER_PIDS[$i]}" 2>/dev/null || true
            if [ "$restarts" -ge 2 ]; then break; fi
            restarts=$((restarts + 1))
            echo "broker $i ($KIND) exited before it was ready; starting it again (see ${BROKER_LOGS[$i]})" >&2
            echo "=== restarted by the benchmark after an exit before ready ===" >> "${BROKER_LOGS[$i]}"
            START_RETRIES=$(( ${START_RETRIES:-0} + 1 ))
            start_node "$i"
        fi
        sleep 0.5; left=$((left - 1))
    done
    echo "broker $i ($KIND) did not become ready; last lines of ${BROKER_LOGS[$i]}:" >&2
    tail -5 "${BROKER_LOGS[$i]}" >&2
    return 1
}

start_all() { # starts 1..3 together and waits until each is ready
    local i
    for i in 1 2 3; do start_node "$i"; done
    for i in 1 2 3; do wait_ready "$i"; done
}

stop_all() {
    local i pid
    for i in 1 2 3; do
        pid="${BROKER_PIDS[$i]:-}"
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    for i in 1 2 3; do
        pid="${BROKER_PIDS[$i]:-}"
        [ -z "$pid" ] && continue
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        BROKER_PIDS[$i]=""
    done
}

rss_kb() { # sum of the three brokers' RSS, and each: "total n1 n2 n3"
    local i r tot=0 each=""
    for i in 1 2 3; do
        r="$(ps -o rss= -p "${BROKER_PIDS[$i]}" | tr -d ' ')"
        r="${r:-0}"; tot=$((tot + r)); each="$each $r"
    done
    echo "$tot$each"
}

create_topic() { # $1 topic $2 partitions
    java -cp "$CP" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --create --topic "$1" \
        --partitions "${2:-1}" --config min.insync.replicas=2 > "$RUN_DIR/create-$1.log" 2>&1 \
        || { cat "$RUN_DIR/create-$1.log" >&2; return 1; }
    # No --replication-factor: both clusters default to 3 (default.replication.factor), and a Runnel
    # cluster rejects an explicit one other than 1 in CreateTopics (a single-node leftover). Checked:
    describe_topic "$1" > "$RUN_DIR/describe-$1.log" 2>&1
    if ! grep -q "ReplicationFactor: 3" "$RUN_DIR/describe-$1.log"; then
        echo "topic $1 is not replicated 3 times:" >&2; cat "$RUN_DIR/describe-$1.log" >&2; return 1
    fi
}

describe_topic() {
    java -cp "$CP" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --describe --topic "$1"
}

# The client tools, the same for both clusters (callers set RUN_DIR, and N_LAT for latency_p99).
produce() { # $1 topic $2 records -> records/s
    timeout 600 java -cp "$CP" org.apache.kafka.tools.ProducerPerformance --topic "$1" --num-records "$2" --record-size 1024 \
        --throughput -1 --producer-props bootstrap.servers="$BOOTSTRAP" acks=all linger.ms=5 batch.size=65536 \
        | tee -a "$RUN_DIR/tools.log" | tail -1 | sed -n 's/.*records sent, \([0-9.]*\) records\/sec.*/\1/p'
}

latency_p99() { # $1 topic [$2 records, default $N_LAT] -> p99 ms (io.runnel.bench.E2eLatency: Kafka's EndToEndLatency without its group commit)
    timeout 600 java -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$ROOT/target/test-classes:$ROOT/target/lib/*" \
        io.runnel.bench.E2eLatency "$BOOTSTRAP" "$1" "${2:-$N_LAT}" all 1024 \
        | tee -a "$RUN_DIR/tools.log" | sed -n 's/.*99th = \([0-9.]*\).*/\1/p'
}

#!/usr/bin/env bash
# End-to-end HTTP load: starts a broker (bin/runnel server) on loopback with a temporary data dir,
# records its idle RSS, runs io.runnel.bench.HttpLoad (src/test/java/io/runnel/bench) once per
# mode, then stops the broker it started (by its PID) and deletes the data dir.
#
#   bench/run-http-bench.sh                                   # produce-batch, produce-single, consume
#   bench/run-http-bench.sh produce-single                    # the modes to run, in order
#   bench/run-http-bench.sh produce-batch -- --duration 30 --connections 16   # after --: HttpLoad options
#
# Environment:
#   RUNNEL_BENCH_BROKER_ARGS   more --key=value settings for the broker (e.g. --num.partitions=4)
#   RUNNEL_BENCH_BROKER_JFR=1  record a JFR file of the broker to target/http-bench/broker.jfr
#   RUNNEL_BENCH_CLIENT_JAVA_OPTS  JVM options of the load client (default -Xmx2g)
#   RUNNEL_BENCH_IDLE_PERCENT  on a shared machine (e.g. 85): each mode starts only once the CPUs
#                              have been at least that idle for 6 s (waiting at most
#                              RUNNEL_BENCH_IDLE_WAIT_S, default 300)
#   RUNNEL_BENCH_MODE_TIMEOUT_S  a mode's client is stopped after this long (default 900; it stops by itself before)
#   RUNNEL_BENCH_DIR           where the temporary data dir goes (default $TMPDIR or /tmp); it
#                              must be on the disk the broker's data would be on (fsync is measured)
#
# Results, under target/http-bench/: <mode>.json (HttpLoad's figures), <mode>.txt (its output),
# broker.log (the broker's output), machine.txt (what ran it, idle RSS) and load.txt (load average
# and the busiest processes every 5 s: other work on the 2 cores skews the figures). Each mode is
# bounded in time (warm-up + duration + a margin, or the consume timeout + prefill); the whole
# script stops by itself.
set -euo pipefail

cd "$(dirname "$0")/.."
modes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    modes+=("$1")
    shift
done
if [ "${1:-}" = "--" ]; then
    shift
fi
client_args=("$@")
if [ ${#modes[@]} -eq 0 ]; then
    modes=(produce-batch produce-single consume)
fi

out=target/http-bench
mkdir -p "$out"
data="$(mktemp -d "${RUNNEL_BENCH_DIR:-${TMPDIR:-/tmp}}/runnel-http-bench.XXXXXX")"
broker=""
monitor=""
cleanup() {
    if [ -n "$monitor" ]; then kill "$monitor" 2> /dev/null || true; fi
    if [ -n "$broker" ] && kill -0 "$broker" 2> /dev/null; then
        # SIGTERM: the broker closes its logs cleanly; SIGKILL only if it has not stopped in 60 s.
        kill -TERM "$broker" 2> /dev/null || true
        for _ in $(seq 1 120); do
            kill -0 "$broker" 2> /dev/null || break
            sleep 0.5
        done
        if kill -0 "$broker" 2> /dev/null; then
            echo "broker $broker did not stop in 60 s; killing it" >&2
            kill -KILL "$broker" 2> /dev/null || true
        fi
    fi
    rm -rf "$data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The broker runs target/runnel.jar + target/lib (bin/runnel). The client is a test class but uses
# only runtime dependencies (Vert.x core's HTTP client, jackson-core, HdrHistogram through
# micrometer-core, picocli), so target/lib is its classpath too; no test-scoped jar is needed.
if [ ! -f target/runnel.jar ] || [ ! -d target/lib ] || [ ! -f target/test-classes/io/runnel/bench/HttpLoad.class ] \
    || [ -n "$(find pom.xml src -newer target/runnel.jar -print -quit)" ] \
    || [ -n "$(find src/test -newer target/test-classes/io/runnel/bench/HttpLoad.class -print -quit)" ]; then
    mvn -B -q package -DskipTests
fi
classpath="target/test-classes:target/classes:target/lib/*"

if [ "$(df --output=fstype "$data" | tail -1)" = tmpfs ]; then
    echo "warning: $data is on tmpfs, so fsync costs nothing and the figures are of memory, not of a disk" >&2
fi

# Every 5 s: load average, CPU idle, and the three busiest processes over the last second.
(
    while true; do
        frame="$(top -b -n 2 -d 1 -o %CPU -w 200 | awk '/^top -/ { n++ } n == 2')"
        idle="$(echo "$frame" | awk -F, '/^%Cpu/ { for (i = 1; i <= NF; i++) if ($i ~ / id/) print $i }' | tr -s ' ')"
        busy="$(echo "$frame" | awk 'f && NR > f { print $1 }  /PID USER/ { f = NR }' | head -3 | while read -r pid; do
            printf '%s%% %s; ' "$(echo "$frame" | awk -v p="$pid" '$1 == p { print $9 }')" \
                "$(ps -o args= -p "$pid" 2> /dev/null | sed -e 's/.*io.runnel.cli.Main.*/broker/' \
                    -e 's/.*io.runnel.bench.HttpLoad.*/load-client/' | cut -c1-60)"
        done)"
        echo "$(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg) |$idle | $busy"
        sleep 4
    done
) > "$out/load.txt" &
monitor=$!

# Port 0: the kernel picks a free port when the broker binds, so two runs cannot race for one;
# the broker prints the port it got.
broker_java_opts=""
if [ "${RUNNEL_BENCH_BROKER_JFR:-0}" = 1 ]; then
    broker_java_opts="-XX:StartFlightRecording=filename=$PWD/$out/broker.jfr,settings=profile,dumponexit=true"
fi
# shellcheck disable=SC2086  # RUNNEL_BENCH_BROKER_ARGS is a list of --key=value words
JAVA_TOOL_OPTIONS="$broker_java_opts" bin/runnel server --data.dir="$data" --listeners.host=127.0.0.1 --http.port=0 --kafka.port=0 --registry.port=0 --bridge.port=0 \
    ${RUNNEL_BENCH_BROKER_ARGS:-} > "$out/broker.log" 2>&1 &
broker=$!
port=""
for _ in $(seq 1 120); do
    port="$(sed -n 's#.*HTTP API on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$out/broker.log" | head -1)"
    if [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/ready" > /dev/null; then
        break
    fi
    if ! kill -0 "$broker" 2> /dev/null; then
        echo "The broker exited while starting:" >&2
        cat "$out/broker.log" >&2
        exit 1
    fi
    port=""
    sleep 0.5
done
if [ -z "$port" ]; then
    echo "The broker was not ready within 60 s:" >&2
    cat "$out/broker.log" >&2
    exit 1
fi

sleep 10
rss_kb="$(ps -o rss= -p "$broker" | tr -d ' ')"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel: $(uname -r)"
    echo "data dir: $data ($(df --output=source,fstype "$data" | tail -1 | tr -s ' '))"
    echo "java: $(java -version 2>&1 | head -1)"
    echo "code: $(git rev-parse --short HEAD 2> /dev/null || echo '?'), uncommitted under src/main: $(git status --short src/main 2> /dev/null | tr '\n' ' ')"
    echo "broker: pid $broker, port $port, settings: ${RUNNEL_BENCH_BROKER_ARGS:-(defaults)}"
    echo "idle RSS after /ready + 10 s: $((rss_kb / 1024)) MB ($rss_kb kB)"
    echo "load before the modes: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "command: bench/run-http-bench.sh ${modes[*]} -- ${client_args[*]}"
} > "$out/machine.txt"
cat "$out/machine.txt"

broker_cpu_s() {
    # utime + stime of the broker, in seconds (fields 14 and 15 of /proc/PID/stat).
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.1f", ($12 + $13) / hz }' "/proc/$broker/stat"
}

cpu_busy_s() {
    # CPU seconds used by everything on the machine so far (all CPUs, idle and iowait excluded).
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.1f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat
}

wait_idle() {
    # Until the CPUs have been at least RUNNEL_BENCH_IDLE_PERCENT idle for three 2 s samples in a row.
    local deadline=$((SECONDS + ${RUNNEL_BENCH_IDLE_WAIT_S:-300})) quiet=0 a b
    while [ $SECONDS -lt $deadline ]; do
        a="$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)"
        sleep 2
        b="$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)"
        if [ "$(echo "$a $b" | awk -v p="$RUNNEL_BENCH_IDLE_PERCENT" '{ busy = $3 - $1; idle = $4 - $2;
                print (100 * idle / (busy + idle + 1e-9) >= p) }')" = 1 ]; then
            quiet=$((quiet + 1))
            [ $quiet -ge 3 ] && return 0
        else
            quiet=0
        fi
    done
    echo "warning: the CPUs were not ${RUNNEL_BENCH_IDLE_PERCENT}% idle within ${RUNNEL_BENCH_IDLE_WAIT_S:-300} s; running anyway" >&2
}

status=0
for mode in "${modes[@]}"; do
    if [ -n "${RUNNEL_BENCH_IDLE_PERCENT:-}" ]; then
        wait_idle
    fi
    # The client stops by itself; this bound only catches a hang.
    limit="${RUNNEL_BENCH_MODE_TIMEOUT_S:-900}"
    echo "== $mode (load $(cut -d' ' -f1-3 /proc/loadavg))"
    cpu_before="$(broker_cpu_s)"
    all_before="$(cpu_busy_s)"
    started=$SECONDS
    set +e
    # shellcheck disable=SC2086  # the client's JVM options are a list of words
    timeout -s TERM "$limit" java ${RUNNEL_BENCH_CLIENT_JAVA_OPTS:--Xmx2g} -cp "$classpath" io.runnel.bench.HttpLoad "$mode" \
        --port "$port" --out "$out/$mode.json" "${client_args[@]}" 2>&1 | tee "$out/$mode.txt"
    code=${PIPESTATUS[0]}
    set -e
    cpu_after="$(broker_cpu_s)"
    all_after="$(cpu_busy_s)"
    client_cpu="$(sed -n 's/.*"client_cpu_s":\([0-9.]*\).*/\1/p' "$out/$mode.txt" | tail -1)"
    # What else ran meanwhile: all CPU time used on the machine, less the broker's and the client's.
    awk -v wall=$((SECONDS - started)) -v broker="$(awk -v a="$cpu_after" -v b="$cpu_before" 'BEGIN { print a - b }')" \
        -v all="$(awk -v a="$all_after" -v b="$all_before" 'BEGIN { print a - b }')" -v client="${client_cpu:-0}" \
        -v load="$(cut -d' ' -f1-3 /proc/loadavg)" -v mode="$mode" 'BEGIN {
            printf "   %s: %d s; broker CPU %.1f s (%.2f cores), client CPU %.1f s, other processes %.1f s (%.2f cores); load after: %s\n",
                mode, wall, broker, broker / wall, client, all - broker - client, (all - broker - client) / wall, load }' \
        | tee -a "$out/$mode.txt"
    if [ "$code" -ne 0 ]; then
        echo "$mode failed with status $code" >&2
        status=$code
    fi
done
echo "idle RSS: $((rss_kb / 1024)) MB; results in $out/"
exit "$status"

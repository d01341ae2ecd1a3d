#!/usr/bin/env bash
# Runs the partition log's JMH benchmarks (src/test/java/io/runnel/bench) on this machine.
#
#   bench/run-log-bench.sh                  # everything, about 8 minutes of JMH
#   bench/run-log-bench.sh LogReadBench     # a regex of the benchmarks to run
#   bench/run-log-bench.sh LogAppendBench -p flush=os -prof gc    # further arguments go to JMH
#
# Results, under target/: jmh-log-bench.json (JMH's JSON), jmh-log-bench.txt (its text output),
# jmh-log-bench-summary.md (MB/s per benchmark, from the JSON), bench-machine.txt (what ran it) and
# bench-load.txt (load average and busiest processes every 5 s: other work on the machine skews
# the figures, and this shows whether it ran).
#
# Benchmark data goes to $RUNNEL_BENCH_DIR (default target/bench-data). It must be on the disk the
# broker's data would be on, since the write benchmarks measure that disk; it is deleted at the end.
#
# On a machine shared with other work, set RUNNEL_BENCH_IDLE_PERCENT (e.g. 85; needs python3): each
# benchmark and parameter combination then runs as its own JMH run, started only once the CPUs have
# been at least that idle for 6 s (waiting at most RUNNEL_BENCH_IDLE_WAIT_S, default 120), and is
# run again (up to RUNNEL_BENCH_ATTEMPTS times, default 3) if other processes used more than 0.1
# core on average while it ran; the least disturbed attempt is kept. The JSON is then the merge of
# those runs, and target/bench-contention.txt lists, per combination, the attempts and the CPU that
# other processes used during each. Do not pass -p in this mode.
#
# The compiled classes are copied to a private directory before JMH starts, so that another build
# of the project recompiling target/classes meanwhile cannot pull classes from under the forks.
set -euo pipefail

cd "$(dirname "$0")/.."
regex="${1:-io.runnel.bench.*}"
shift || true

export RUNNEL_BENCH_DIR="${RUNNEL_BENCH_DIR:-$PWD/target/bench-data}"
work="$(mktemp -d "${TMPDIR:-/tmp}/runnel-bench.XXXXXX")"
monitor=""
cleanup() {
    if [ -n "$monitor" ]; then kill "$monitor" 2> /dev/null || true; fi
    rm -rf "$RUNNEL_BENCH_DIR" "$work"
}
trap cleanup EXIT

mvn -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench-classpath.txt
cp target/bench-classpath.txt "$work/"
# Another build of the project may be recompiling target/ at the same moment; copy until whole.
for try in 1 2 3 4 5; do
    rm -rf "$work/classes" "$work/test-classes"
    mvn -B -q test-compile
    cp -r target/classes "$work/classes" 2> /dev/null || true
    cp -r target/test-classes "$work/test-classes" 2> /dev/null || true
    if [ -f "$work/test-classes/META-INF/BenchmarkList" ] && [ -f "$work/classes/io/runnel/log/Log.class" ] \
        && [ -d "$work/test-classes/io/runnel/bench/jmh_generated" ] \
        && java -cp "$work/test-classes:$work/classes:$(cat "$work/bench-classpath.txt")" \
            org.openjdk.jmh.Main -l "$regex" | grep -q '^io\.runnel\.bench\.'; then
        break
    fi
    if [ "$try" = 5 ]; then
        echo "The compiled classes stayed incomplete (another build keeps recompiling target/?)" >&2
        exit 1
    fi
    echo "The compiled classes were incomplete (another build?); compiling again." >&2
    sleep 10
done
classpath="$work/test-classes:$work/classes:$(cat "$work/bench-classpath.txt")"

mkdir -p "$RUNNEL_BENCH_DIR"
if [ "$(df --output=fstype "$RUNNEL_BENCH_DIR" | tail -1)" = tmpfs ]; then
    echo "warning: $RUNNEL_BENCH_DIR is on tmpfs, so the write figures are of memory, not of a disk" >&2
fi
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel: $(uname -r)"
    echo "memory:"; free -h
    echo "bench data dir: $RUNNEL_BENCH_DIR"; df -T "$RUNNEL_BENCH_DIR"
    echo "project dir: $PWD"; df -T "$PWD"
    echo "vm: $(for f in dirty_background_ratio dirty_ratio dirty_expire_centisecs; do printf '%s=%s ' "$f" "$(cat /proc/sys/vm/$f)"; done)"
    echo "java:"; java -version 2>&1
    echo "code: $(git rev-parse --short HEAD 2> /dev/null || echo '?'), uncommitted under src/main: $(git status --short src/main 2> /dev/null | tr '\n' ' ')"
    echo "command: bench/run-log-bench.sh $regex $*"
} > target/bench-machine.txt
cat target/bench-machine.txt

# Every 5 s: load, CPU idle, and the three busiest processes over the last second (the JMH fork
# is the one running org.openjdk.jmh.runner.ForkedMain; anything else busy is competing with it).
(
    while true; do
        frame="$(top -b -n 2 -d 1 -o %CPU -w 200 | awk '/^top -/ { n++ } n == 2')"
        idle="$(echo "$frame" | awk -F, '/^%Cpu/ { for (i = 1; i <= NF; i++) if ($i ~ / id/) print $i }' | tr -s ' ')"
        busy="$(echo "$frame" | awk 'f && NR > f { print $1 }  /PID USER/ { f = NR }' | head -3 | while read -r pid; do
            printf '%s%% %s; ' "$(echo "$frame" | awk -v p="$pid" '$1 == p { print $9 }')" \
                "$(ps -o args= -p "$pid" 2> /dev/null | sed 's/.*ForkedMain.*/jmh-fork/' | cut -c1-60)"
        done)"
        echo "$(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg) |$idle | $busy"
        sleep 4
    done
) > target/bench-load.txt &
monitor=$!

set +e
if [ -z "${RUNNEL_BENCH_IDLE_PERCENT:-}" ]; then
    java -cp "$classpath" org.openjdk.jmh.Main "$regex" -rf json -rff "$work/jmh-log-bench.json" "$@" 2>&1 \
        | tee "$work/jmh-log-bench.txt"
    status=${PIPESTATUS[0]}
else
    python3 - "$classpath" "$regex" "$work" "$@" <<'PY' 2>&1 | tee "$work/jmh-log-bench.txt"
# Idle-gated mode: one JMH run per benchmark and parameter combination (see the header).
import itertools, json, os, re, subprocess, sys, threading, time

classpath, regex, work, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
idle_percent = float(os.environ["RUNNEL_BENCH_IDLE_PERCENT"])
max_wait_s = float(os.environ.get("RUNNEL_BENCH_IDLE_WAIT_S", "120"))
attempts = int(os.environ.get("RUNNEL_BENCH_ATTEMPTS", "3"))
allowed_other_cores = 0.1
hz = os.sysconf("SC_CLK_TCK")
ncpu = os.cpu_count()

def cpu_busy_idle():
    f = open("/proc/stat").readline().split()[1:]
    v = [int(x) for x in f]
    idle = v[3] + v[4]
    return sum(v) - idle, idle

def wait_idle():
    deadline, quiet = time.time() + max_wait_s, 0
    while time.time() < deadline:
        b0, i0 = cpu_busy_idle()
        time.sleep(2)
        b1, i1 = cpu_busy_idle()
        idle = 100.0 * (i1 - i0) / max(1, (b1 - b0) + (i1 - i0))
        quiet = quiet + 1 if idle >= idle_percent else 0
        if quiet >= 3:
            return True
    return False

def uptime_ticks():
    return float(open("/proc/uptime").read().split()[0]) * hz

def process_times():
    """(user+system ticks, start time in ticks since boot, command line) of every user-space process."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            st = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        if not cmd:
            continue  # kernel threads: writeback and the like work for the benchmark too
        fields = st[st.rfind(")") + 2:].split()
        out[pid] = (int(fields[11]) + int(fields[12]), int(fields[19]), cmd)
    return out

class Contention(threading.Thread):
    """CPU used, while a run lasts, by processes other than the run's own (JMH host and fork, this script)."""
    def __init__(self):
        super().__init__(daemon=True)
        self.stop, self.ticks, self.top = threading.Event(), 0, {}
        self.start_t, self.start_ticks = time.time(), uptime_ticks()
        self.mine = {str(os.getpid()), str(os.getppid())}
    def run(self):
        last = process_times()
        while not self.stop.wait(1):
            now = process_times()
            for pid, (t, started, cmd) in now.items():
                if pid in self.mine or "org.openjdk.jmh" in cmd:
                    continue
                if pid in last:
                    d = t - last[pid][0]
                else:
                    d = t if started >= self.start_ticks else 0  # seen first now: all of it if it is new
                self.ticks += d
                if d > 0:
                    self.top[cmd[:70]] = self.top.get(cmd[:70], 0) + d
            last = now
    def cores(self):
        return self.ticks / hz / max(1e-9, time.time() - self.start_t)

def combinations():
    listing = subprocess.run(["java", "-cp", classpath, "org.openjdk.jmh.Main", "-lp", regex],
                             check=True, capture_output=True, text=True).stdout
    benches = []
    for line in listing.splitlines():
        m = re.match(r'\s+param "(\w+)" = \{(.*)\}', line)
        if m:
            benches[-1][1].append((m.group(1), [v.strip() for v in m.group(2).split(",")]))
        elif line.startswith("io."):
            benches.append((line.strip(), []))
    for name, params in benches:
        keys = [k for k, _ in params]
        for values in itertools.product(*[v for _, v in params]):
            yield name, list(zip(keys, values))

results, report = [], []
for name, params in combinations():
    label = name.split(".", 3)[-1] + "".join(f" {k}={v}" for k, v in params)
    tried = []
    for attempt in range(1, attempts + 1):
        quiet = wait_idle()
        part = os.path.join(work, f"part-{len(report)}-{attempt}.json")
        args = ["java", "-cp", classpath, "org.openjdk.jmh.Main", "^" + re.escape(name) + "$",
                "-rf", "json", "-rff", part] + [a for k, v in params for a in ("-p", f"{k}={v}")] + extra
        print(f"\n##### {label}: attempt {attempt}, started {'after an idle' if quiet else 'WITHOUT an idle'} "
              f"period at {time.strftime('%H:%M:%S', time.gmtime())} UTC", flush=True)
        watch = Contention()
        watch.start()
        code = subprocess.run(args).returncode
        watch.stop.set()
        watch.join()
        busiest = sorted(watch.top.items(), key=lambda kv: -kv[1])[:2]
        tried.append((watch.cores(), part, quiet, code, busiest))
        print(f"##### {label}: other processes used {watch.cores():.2f} cores on average", flush=True)
        if code != 0:
            sys.exit(code)
        if watch.cores() <= allowed_other_cores:
            break
    best = min(tried, key=lambda t: t[0])
    results += json.load(open(best[1]))
    report.append((label, tried, best))

json.dump(results, open(os.path.join(work, "jmh-log-bench.json"), "w"), indent=2)
with open(os.path.join(work, "bench-contention.txt"), "w") as out:
    out.write(f"# idle gate {idle_percent}%, other processes allowed {allowed_other_cores} cores, {ncpu} CPUs\n")
    for label, tried, best in report:
        out.write(f"{label}: kept attempt {tried.index(best) + 1} of {len(tried)}; other processes' cores per attempt: "
                  + ", ".join(f"{t[0]:.2f}{'' if t[2] else ' (no idle start)'}" for t in tried)
                  + "; busiest others in the kept one: "
                  + "; ".join(f"{c} ({ticks / hz:.0f} s)" for c, ticks in best[4]) + "\n")
print(open(os.path.join(work, "bench-contention.txt")).read())
PY
    status=${PIPESTATUS[0]}
    if [ -f "$work/bench-contention.txt" ]; then
        cp "$work/bench-contention.txt" target/
    fi
fi
set -e
mkdir -p target
cp "$work/jmh-log-bench.txt" target/
if [ -f "$work/jmh-log-bench.json" ]; then
    cp "$work/jmh-log-bench.json" target/
fi
if [ "$status" -ne 0 ]; then
    echo "JMH failed with status $status" >&2
    exit "$status"
fi

# MB/s (10^6 bytes per second) for each benchmark, from the JSON.
if command -v python3 > /dev/null; then
    python3 - target/jmh-log-bench.json > target/jmh-log-bench-summary.md <<'PY'
import json, sys

COMPACTION_INPUT_BYTES = 536_872_446  # LogCompactionBench.INPUT_BYTES

def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")

print("| benchmark | params | MB/s | ± (99.9%) | other |")
print("|---|---|---:|---:|---|")
for r in json.load(open(sys.argv[1])):
    name = ".".join(r["benchmark"].split(".")[-2:])
    params = ", ".join(f"{k}={v}" for k, v in (r.get("params") or {}).items())
    primary, sec = r["primaryMetric"], r.get("secondaryMetrics") or {}
    other = []
    if "bytes" in sec:
        mbs, err = num(sec["bytes"]["score"]) / 1e6, num(sec["bytes"]["scoreError"]) / 1e6
        other.append(f"{num(primary['score']):,.0f} ops/s")
    elif r["mode"] == "ss":
        s = num(primary["score"])
        mbs, err = COMPACTION_INPUT_BYTES / 1e6 / s, float("nan")
        other.append(f"{s:.3f} ± {num(primary['scoreError']):.3f} s per pass")
    else:
        continue
    if "fsyncs" in sec and num(sec["fsyncs"]["score"]) > 0:
        other.append(f"{num(sec['fsyncs']['score']):.0f} fsyncs/s")
    for k, v in sec.items():
        if k.endswith("gc.alloc.rate.norm"):
            other.append(f"{num(v['score']):,.0f} B/op allocated")
    print(f"| {name} | {params} | {mbs:,.0f} | {err:,.0f} | {'; '.join(other)} |")
PY
    cat target/jmh-log-bench-summary.md
fi

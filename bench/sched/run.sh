#!/usr/bin/env bash
# The scheduling benchmark (issue 9), modelled on Kubernetes' scheduler_perf:
#
#   bench/sched/run.sh [--nodes N] [--pods P] [--workload W] [--replicas 1|3] [--mode direct|deployment]
#                      [--rate R] [--timeout S] [--scheduler-config FILE] [--inflight 64] [--no-peer]
#                      [--startup-delay 1s]
#     W: SchedulingBasic (default) | NodeAffinity | PodAntiAffinity | TopologySpreading | Preemption | Mixed
#
# Starts a cluster in a temp dir (`troupe up`, or 3 replicated `troupe server`s on loopback), N
# hollow nodes (`troupe hollow`, sized so the P pods fit: 100m cpu / 50Mi each; Preemption: the
# low half fills the cpu, the high half preempts it), cordons any real node, creates the P pods
# (direct: bench/sched/schedload pipelines creates over one connection at R pods/s, 0 = as fast as
# 64 in flight allow; deployment: one Deployment per workload), waits until every pod is bound,
# then prints: throughput (steady state = the middle 80 % of bindings, and overall), p50/p99
# created→bound and created→Running (client-side watch times in ms, see schedload.c: the API's
# timestamps have seconds precision), CPU seconds and peak RSS of each process and a server's CPU by thread (/proc), and
# runs schedcheck on the end state. Writes bench/results/sched-*.csv (a row per pod), appends a
# summary row to bench/results/sched.csv, and a PNG of bindings over time if gnuplot is installed.
# --scheduler-config: a KubeSchedulerConfiguration for the servers (e.g. percentageOfNodesToScore:
# 100 to compare placement quality without sampling: schedcheck prints the cpu balance).
# --startup-delay: how long a hollow node takes to report a pod Running once bound (default 1s, as
# a kubemark node with its fake runtime). Kubernetes' scheduler_perf has no kubelets: a delay
# longer than the run (e.g. 60s) keeps the nodes' Running writes out of the measured window, as
# there; the run then waits for them (created→Running includes the delay).
# The peer, measured after the cluster stopped (unless --no-peer, or etcd-server is not installed:
# scripts/deps.sh bench): etcd alone, as many members as store replicas, fsync on, on the same
# disk, taking compare-and-swap writes of the run's mean pod size from as many clients as the load
# kept creates in flight (build/bench_etcd, etcd's own Go client). A Kubernetes pod costs etcd
# three such writes (create, binding, the kubelet's Running), two without kubelets
# (scheduler_perf): that rate over three and over two is the most pods/s Kubernetes' storage alone
# could take on this machine.
# Before the cluster starts and after it stops, build/bench_sched_cycle (if built) times the
# scheduling cycle alone: the machine's speed in the same run, beside the run's figures; and
# build/cpuprobe times a fixed integer loop and a fixed walk of memory (their own CPU time) every
# 100 ms on the idle machine and while the pods are created and bound (the medians are printed).
# SCHED_RESULTS=DIR writes there instead of bench/results; KEEP=1 keeps the temp dir.
# Exit 0 when the run is valid, 1 when schedcheck finds a wrong placement or pods were not bound,
# 2 on bad usage or a missing prerequisite.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${TROUPE_BUILD:-$SRC/build}
TROUPE=$(realpath "${TROUPE:-$BUILD/troupe}" 2>/dev/null || echo "${TROUPE:-$BUILD/troupe}")
LOAD=$BUILD/schedload
CHECK=$BUILD/schedcheck
N=100 P=1000 W=SchedulingBasic REPL=1 MODE=direct RATE=0 TIMEOUT=600 SCFG= INFLIGHT=64 PEER=1 DELAY=1s
usage() { sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) N=$2; shift 2 ;;
    --pods) P=$2; shift 2 ;;
    --workload) W=$2; shift 2 ;;
    --replicas) REPL=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --scheduler-config) SCFG=$(realpath "$2") || exit 2; shift 2 ;;
    --inflight) INFLIGHT=$2; shift 2 ;;
    --no-peer) PEER=0; shift ;;
    --startup-delay) DELAY=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown option $1" >&2; usage ;;
  esac
done
die() { echo "run.sh: $*" >&2; exit 2; }
case "$W" in SchedulingBasic|NodeAffinity|PodAntiAffinity|TopologySpreading|Preemption|Mixed) ;; *) die "unknown workload $W" ;; esac
case "$REPL" in 1|3) ;; *) die "--replicas is 1 or 3" ;; esac
case "$MODE" in direct|deployment) ;; *) die "--mode is direct or deployment" ;; esac
[[ "$DELAY" =~ ^[0-9]+(ms|s|m)$ ]] || die "--startup-delay is a duration: 500ms, 1s, 60s, 2m"
[[ "$N" =~ ^[1-9][0-9]*$ && "$P" =~ ^[1-9][0-9]*$ ]] || die "--nodes and --pods are positive integers"
[ "$MODE" = deployment ] && [ "$W" = Preemption ] && die "Preemption runs in --mode direct only (the low and high halves are separate pods)"
for b in "$TROUPE" "$LOAD" "$CHECK"; do [ -x "$b" ] || die "$b is not built (cmake --build build)"; done
command -v jq >/dev/null || die "jq is needed"
# `troupe hollow` (issue 9's kubemark) plays the nodes: without it there is nothing to schedule onto
if "$TROUPE" hollow --help 2>&1 | grep -q 'unknown command "hollow"'; then
  die "'$TROUPE hollow' is missing: this build has no hollow nodes (issue 9), the benchmark cannot run"
fi

# ---- this machine's speed, measured in the same run: the scheduling cycle alone, one thread, no
# cluster (bench_sched_cycle). This VM's speed moves by up to 1.6x over hours with the same code
# (docs/benchmarks.md, session 40): a run's pods/s reads beside it.
REFB=$BUILD/bench_sched_cycle
refcycle() { [ -x "$REFB" ] && "$REFB" 2>/dev/null | sed -n 's/.* filtered per cycle: \([0-9.]*\) us per cycle.*/\1/p'; }
REF0=$(refcycle)
# ... and during the run (cpuprobe: a fixed loop's own CPU time every 100 ms, ~0.5 % of a CPU):
# back-to-back runs of the same code differ by up to 1.6x while the cycle before and after stays
# the same; the probe's medians on the idle machine now and while the pods are scheduled say
# whether the machine itself was slower in a run
PROBEB=$BUILD/cpuprobe
# median of column $1 (ns) of probe lines with epoch ms in [$2, $3], in us with one decimal
probe_med() { awk -v c="$1" -v a="$2" -v b="$3" '$1 >= a && $1 <= b { print $c }' | sort -n |
  awk '{ v[NR] = $1 } END { if (NR) printf "%.1f %d", v[int((NR + 1) / 2)] / 1000, NR }'; }
PROBE0=""
[ -x "$PROBEB" ] && "$PROBEB" --count 10 >"${TMPDIR:-/tmp}/troupe-probe0.$$" 2>/dev/null &&
  PROBE0="$(probe_med 2 0 9e15 <"${TMPDIR:-/tmp}/troupe-probe0.$$") $(probe_med 3 0 9e15 <"${TMPDIR:-/tmp}/troupe-probe0.$$")"
rm -f "${TMPDIR:-/tmp}/troupe-probe0.$$"

D=$(mktemp -d /tmp/troupe-bench-sched.XXXXXX)
export HOME=$D XDG_DATA_HOME=$D/data XDG_CONFIG_HOME=$D/config XDG_CACHE_HOME=$D/cache
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done; kill -9 "$p" 2>/dev/null; done
  # a runtime shim outlives its agent (DESIGN.md): stop the ones this run's servers started
  local f s
  for f in "$D"/run/shim.pid "$D"/*/run/shim.pid; do
    [ -f "$f" ] || continue
    s=$(cat "$f" 2>/dev/null); [ -n "$s" ] && grep -q shim "/proc/$s/cmdline" 2>/dev/null || continue
    kill "$s" 2>/dev/null; for _ in $(seq 1 50); do kill -0 "$s" 2>/dev/null || break; sleep 0.2; done; kill -9 "$s" 2>/dev/null
  done
  [ -n "${KEEP:-}" ] && echo "run.sh: kept $D" || rm -rf "$D"
}
trap cleanup EXIT
fail() { echo "run.sh: FAIL: $*" >&2; for f in "$D"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }; done; exit 1; }
wait_for() { local t=$1; shift; local end=$((SECONDS + t)); while [ $SECONDS -lt $end ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done; return 1; }

# ---- the cluster ----
KC=()
# node IPAM: the default 10.244.0.0/16 holds 256 /24s; a /12 holds 4,096 /24s, a /10 16,384
SRVOPTS=(--cluster-cidr 10.64.0.0/10)
[ -n "$SCFG" ] && SRVOPTS+=(--scheduler-config "$SCFG")
if [ "$REPL" = 1 ]; then
  ( cd "$D" && exec "$TROUPE" up "${SRVOPTS[@]}" >"$D/up.log" 2>&1 ) & PIDS+=($!)
  SERVERS=("${PIDS[0]}")
  wait_for 60 "$TROUPE" get nodes || fail "troupe up: no API after 60 s"
else
  BASE=$((20000 + $$ % 12000))
  api() { echo "tcp://127.0.0.1:$((BASE + $1))"; }
  peer() { echo "tcp://127.0.0.1:$((BASE + 10 + $1))"; }
  ALL="$(api 1),$(api 2),$(api 3)"
  "$TROUPE" init --cluster bench --data "$D/s1" >"$D/init.out" 2>&1 || fail "troupe init"
  TOKEN=$(sed -n 's/^join token=//p' "$D/init.out")
  SERVERS=()
  for n in 1 2 3; do
    extra=(); [ "$n" != 1 ] && extra=(--join "$(peer 1)" --token "$TOKEN")
    "$TROUPE" server --data "$D/s$n" --name "s$n" --listen "$(api "$n")" --peer-listen "$(peer "$n")" "${SRVOPTS[@]}" "${extra[@]}" >>"$D/s$n.log" 2>&1 &
    PIDS+=($!); SERVERS+=($!)
    [ "$n" = 1 ] && { wait_for 30 "$TROUPE" --server "ipc://$D/s1/run/troupe.sock" store status || fail "s1 not serving"; }
  done
  wait_for 60 "$TROUPE" --server "ipc://$D/s3/run/troupe.sock" store status || fail "s3 did not join"
  sed "s|^server: .*|server: \"$ALL\"|" "$XDG_CONFIG_HOME/troupe/config" >"$D/admin.config"
  KC=(--kubeconfig "$D/admin.config")
fi
tro() { "$TROUPE" "${KC[@]}" "$@"; }
# a real node (troupe up's own agent) is cordoned: every pod goes to a hollow node
sleep 2
for n in $(tro get nodes -o json | jq -r '.items[].metadata.name'); do tro cordon "$n" >/dev/null || fail "cordon $n"; done

# ---- hollow nodes, sized for the pods ----
PPN=$(( (P + N - 1) / N ))
if [ "$W" = Preemption ]; then
  CPU=$(( (P / 2 + N - 1) / N )); [ "$CPU" -lt 1 ] && CPU=1
else
  CPU=$(( (PPN * 100 * 5 / 4 + 999) / 1000 )); [ "$CPU" -lt 4 ] && CPU=4
fi
MEMMI=$(( PPN * 50 * 5 / 4 )); [ "$MEMMI" -lt 16384 ] && MEMMI=16384
PODS=$(( PPN + PPN / 4 + 10 )); [ "$PODS" -lt 110 ] && PODS=110
ZONES=(); case "$W" in NodeAffinity|TopologySpreading|Mixed) ZONES=(--zones zone-a,zone-b,zone-c) ;; esac
"$TROUPE" "${KC[@]}" hollow --startup-delay "$DELAY" --nodes "$N" --cpu "$CPU" --memory "${MEMMI}Mi" --pods "$PODS" --labels bench=hollow "${ZONES[@]}" >"$D/hollow.log" 2>&1 &
HOLLOW=$!; PIDS+=($HOLLOW)
declare -A PNAME
PNAME[$HOLLOW]=hollow
for i in "${!SERVERS[@]}"; do PNAME[${SERVERS[$i]}]=$([ "$REPL" = 1 ] && echo "troupe-up" || echo "server-s$((i + 1))"); done
hready() { [ "$(tro get nodes -l bench=hollow -o json | jq '[.items[] | select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))] | length')" -ge "$N" ]; }
wait_for $((60 + N / 20)) hready || fail "$N hollow nodes not Ready in time"
echo "run.sh: $N hollow nodes Ready ($CPU cpu, ${MEMMI}Mi, $PODS pods each); $P pods of $W, $MODE, $REPL replica(s), rate ${RATE:-0}"

if [ "$W" = Preemption ]; then
  printf 'apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: bench-low}\nvalue: 10\n---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: bench-high}\nvalue: 1000\n' >"$D/pc.yaml"
  OUT=$(tro apply -f "$D/pc.yaml" 2>&1) || die "Preemption needs PriorityClass objects, refused here: $OUT"
fi

# ---- CPU and RSS of each process, from /proc ----
TICK=$(getconf CLK_TCK)
cpu_of() { # utime+stime of a process and its children still alive, in ticks
  local t=0 p
  for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
rss_of() { local r=0 p; for p in "$1" $(pgrep -P "$1" 2>/dev/null); do r=$((r + $(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo "$r"; }
threads_of() { # "name ticks" per thread of a process and its children (`troupe server` serves from a
  # child of its supervisor; thread names: core/log.h tr_thread_name)
  local f p
  for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
    for f in /proc/"$p"/task/*/stat; do [ -r "$f" ] && awk '{print substr($2, 2, length($2) - 2), $14 + $15}' "$f"; done
  done
}
declare -A C0
for p in "${SERVERS[@]}" "$HOLLOW"; do C0[$p]=$(cpu_of "$p"); threads_of "$p" >"$D/threads0.$p"; done

# ---- load ----
RUN="b$$"
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=${SCHED_RESULTS:-$SRC/bench/results}
mkdir -p "$RESULTS"
TAG="sched-$W-${N}n-${P}p-$MODE-${REPL}r-$STAMP"
PODCSV="$RESULTS/$TAG.csv"
# startup latency: wait until the hollow nodes report every pod Running (not for Preemption, whose
# low half is preempted)
RUNNING=(--running); [ "$W" = Preemption ] && RUNNING=()
T0=$(date +%s.%N)
PROBEPID=""
[ -x "$PROBEB" ] && { "$PROBEB" --out "$D/probe.txt" 2>/dev/null & PROBEPID=$!; PIDS+=($PROBEPID); }
if [ "$MODE" = direct ]; then
  "$LOAD" "${KC[@]}" --pods "$P" --nodes "$N" --workload "$W" --rate "$RATE" --inflight "$INFLIGHT" --run "$RUN" --timeout "$TIMEOUT" "${RUNNING[@]}" --csv "$PODCSV" >"$D/load.out" 2>"$D/load.log" &
  LOADPID=$!
else
  WLS=("$W"); [ "$W" = Mixed ] && WLS=(SchedulingBasic NodeAffinity PodAntiAffinity TopologySpreading)
  "$LOAD" "${KC[@]}" --watch-only --selector "bench=$RUN" --pods "$P" --nodes "$N" --workload "$W" --run "$RUN" --timeout "$TIMEOUT" "${RUNNING[@]}" --csv "$PODCSV" >"$D/load.out" 2>"$D/load.log" &
  LOADPID=$!
  sleep 1
  k=0
  for wl in "${WLS[@]}"; do
    reps=$(( P / ${#WLS[@]} )); [ $k = 0 ] && reps=$(( reps + P % ${#WLS[@]} ))
    tpl=$("$LOAD" --template "$wl" --nodes "$N" --pods "$P" --run "$RUN") || fail "template $wl"
    dn=$(echo "bench-$wl" | tr 'A-Z' 'a-z')
    echo "$tpl" | jq --arg n "$dn" --argjson r "$reps" --arg run "$RUN" '{apiVersion: "apps/v1", kind: "Deployment",
        metadata: {name: $n}, spec: {replicas: $r, selector: {matchLabels: {bench: $run, deploy: $n}},
        template: {metadata: {labels: (.metadata.labels + {deploy: $n})}, spec: .spec}}}' >"$D/$dn.json"
    tro apply -f "$D/$dn.json" >/dev/null || fail "apply $dn"
    k=$((k + 1))
  done
fi
wait "$LOADPID"; LRC=$?
T1=$(date +%s.%N)
[ -n "$PROBEPID" ] && { kill "$PROBEPID" 2>/dev/null; wait "$PROBEPID" 2>/dev/null; }
WALL=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }')
cat "$D/load.out"; [ -s "$D/load.log" ] && head -5 "$D/load.log" >&2
SUM=$(grep '^schedload:' "$D/load.out" || true)
[ -n "$SUM" ] || fail "schedload printed no summary"
field() { echo "$SUM" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
PROCS=""
for p in "${SERVERS[@]}" "$HOLLOW"; do
  name=${PNAME[$p]}
  c1=$(cpu_of "$p"); cs=$(awk -v a="${C0[$p]}" -v b="$c1" -v t="$TICK" 'BEGIN { printf "%.1f", (b - a) / t }')
  rss=$(( $(rss_of "$p") / 1024 ))
  echo "run.sh: process $p ($name): ${cs} s cpu over ${WALL} s, peak RSS ${rss} MiB"
  # where a server's CPU went, by thread (the actor that saturates first bounds the throughput)
  [ "$p" = "$HOLLOW" ] || threads_of "$p" | awk -v t="$TICK" 'NR == FNR { a[$1] += $2; next } { b[$1] += $2 }
    END { for (k in b) { d = (b[k] - a[k]) / t; if (d >= 0.05) printf "%s %.1f\n", k, d } }' "$D/threads0.$p" - |
    sort -k2 -rn | awk -v p="$p" '{ s = s (s ? ", " : "") $1 " " $2 " s" } END { if (s) print "run.sh: threads of " p ": " s }'
  PROCS="$PROCS$name:${cs}s:${rss}MiB "
done
[ "$W" != Preemption ] || sleep 5 # the victims' deletions settle

# ---- the placements ----
tro get pods -A -o json >"$D/pods.json" || fail "get pods"
tro get nodes -o json >"$D/nodes.json" || fail "get nodes"
tro get events -A -o json >"$D/events.json" 2>/dev/null || rm -f "$D/events.json"
EV=(); [ -s "$D/events.json" ] && EV=(--events "$D/events.json")
"$CHECK" --pods "$D/pods.json" --nodes "$D/nodes.json" "${EV[@]}" --max 50 | tee "$D/check.out"
CRC=${PIPESTATUS[0]}
VERDICT=valid; [ "$CRC" = 0 ] || VERDICT=INVALID
[ "$LRC" = 0 ] || VERDICT="$VERDICT;incomplete(refused or unbound pods)"

SUMCSV="$RESULTS/sched.csv"
[ -f "$SUMCSV" ] || echo "date,workload,nodes,pods,replicas,mode,rate,throughput_steady,throughput_overall,bind_p50_ms,bind_p99_ms,start_p50_ms,start_p99_ms,wall_s,processes,verdict,pods_csv" >"$SUMCSV"
# a run whose nodes report Running later than the kubemark-like default says so in its mode
CSVMODE=$MODE; [ "$DELAY" = 1s ] || CSVMODE="$MODE/startup-$DELAY"
echo "$STAMP,$W,$N,$P,$REPL,$CSVMODE,$RATE,$(field throughput_steady),$(field throughput_overall),$(field bind_p50_ms),$(field bind_p99_ms),$(field start_p50_ms),$(field start_p99_ms),$WALL,${PROCS% },$VERDICT,$(basename "$PODCSV")" >>"$SUMCSV"
echo "run.sh: $W $N nodes $P pods: steady $(field throughput_steady) pods/s, overall $(field throughput_overall) pods/s, bind p50 $(field bind_p50_ms) ms p99 $(field bind_p99_ms) ms (nodes report Running ${DELAY} after binding); placements $VERDICT"
echo "run.sh: beside it, same run: the API took the creates at $(field create_rate) pods/s"
# the probe's samples from the first create to the last binding (the pods' CSV, epoch ms)
if [ -n "$PROBE0" ] && [ -s "$D/probe.txt" ] && [ -s "$PODCSV" ]; then
  read -r PA PB <<<"$(awk -F, 'NR > 1 && $3 > 0 { if (!a || $2 < a) a = $2; if ($3 > b) b = $3 } END { printf "%.0f %.0f\n", a, b }' "$PODCSV")"
  read -r PALU PN <<<"$(probe_med 2 "$PA" "$PB" <"$D/probe.txt")"
  read -r PMEM _ <<<"$(probe_med 3 "$PA" "$PB" <"$D/probe.txt")"
  read -r P0ALU _ P0MEM _ <<<"$PROBE0"
  if [ -n "${PALU:-}" ]; then
    PDUR="a fixed integer loop took $PALU us and a fixed walk of memory $PMEM us while the pods were created and bound ($PN samples)"
  else
    PDUR="no sample fell in the $((PB - PA)) ms from the first create to the last binding"
  fi
  echo "run.sh: machine during the run (cpuprobe, its own CPU time every 100 ms): $PDUR, $P0ALU us and $P0MEM us on the idle machine before the cluster started"
fi

if command -v gnuplot >/dev/null; then
  # bindings over time: the sorted bind times against their rank
  awk -F, 'NR > 1 && $3 > 0 { print $3 }' "$PODCSV" | sort -n | awk 'NR == 1 { t0 = $1 } { print ($1 - t0) / 1000, NR }' >"$D/bound.dat"
  gnuplot <<G 2>"$D/gnuplot.log" && echo "run.sh: plot ${PODCSV%.csv}.png"
set terminal png size 900,500
set output "${PODCSV%.csv}.png"
set title "$W: $P pods on $N hollow nodes ($MODE, $REPL replica(s))"
set xlabel "seconds since the first binding"; set ylabel "pods bound"; set key off; set grid
plot "$D/bound.dat" using 1:2 with lines lw 2
G
fi
# the store's group commit (how many writes, bindings among them, share a transaction or a Raft
# entry), which each server logs when it stops
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
for p in "${PIDS[@]}"; do for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
for f in "$D"/up.log "$D"/s[0-9].log; do
  [ -f "$f" ] && grep -h "group commit" "$f" | tail -1 | sed "s|.*group commit:|run.sh: store group commit ($(basename "$f" .log)):|"
done
REF1=$(refcycle)
[ -n "$REF0" ] && [ -n "$REF1" ] && echo "run.sh: machine, same run: the scheduling cycle alone (bench_sched_cycle, 5,000 nodes, one thread) took $REF0 us before the cluster started and $REF1 us after it stopped (docs/benchmarks.md: 17 us on the machine where SchedulingBasic at 5,000 nodes made 10,000 pods/s and more, 21 us where it made 5,500-9,100)"

# ---- the peer: etcd alone, on this machine, after the cluster stopped ----
if [ "$PEER" = 1 ]; then
  EB=$BUILD/bench_etcd
  if ! command -v etcd >/dev/null; then
    echo "run.sh: peer skipped: etcd-server is not installed (scripts/deps.sh bench)"
  elif ! { [ -x "$EB" ] && [ ! "$SRC/bench/etcd/main.go" -nt "$EB" ]; } &&
       ! (cd "$SRC/bench/etcd" && GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE=${TMPDIR:-/tmp}/troupe-gocache \
            go build -o "$EB" .) >"$D/bench_etcd.build" 2>&1; then
    echo "run.sh: peer skipped: bench/etcd does not build (scripts/deps.sh bench installs Go and etcd's client): $(tail -1 "$D/bench_etcd.build")"
  else
    # the run's mean pod, as compact JSON (etcd holds protobuf, smaller: in etcd's favour)
    SIZE=$(jq -c '.items[]' "$D/pods.json" | awk '{ n++; b += length($0) } END { print (n ? int(b / n) : 1024) }')
    # as many members as the run had store replicas, on loopback
    EP=$((10000 + $$ % 9000)) CL="" EPS="" EPIDS=()
    for i in $(seq 1 "$REPL"); do CL="$CL${CL:+,}p$i=http://127.0.0.1:$((EP + 100 + i))"; done
    for i in $(seq 1 "$REPL"); do
      etcd --name "p$i" --data-dir "$D/etcd$i" --log-level error \
        --listen-client-urls "http://127.0.0.1:$((EP + i))" --advertise-client-urls "http://127.0.0.1:$((EP + i))" \
        --listen-peer-urls "http://127.0.0.1:$((EP + 100 + i))" --initial-advertise-peer-urls "http://127.0.0.1:$((EP + 100 + i))" \
        --initial-cluster "$CL" --initial-cluster-state new --initial-cluster-token bench-peer >>"$D/etcd.log" 2>&1 &
      EPIDS+=($!); PIDS+=($!)
      EPS="$EPS${EPS:+,}http://127.0.0.1:$((EP + i))"
    done
    if wait_for 30 env ETCDCTL_API=3 etcdctl --endpoints "$EPS" endpoint health; then
      OUT=$("$EB" -endpoints "$EPS" -members "$REPL" -clients "$INFLIGHT" -size "$SIZE" -op cas -seconds 5 2>&1)
      ECAS=$(echo "$OUT" | tr ' ' '\n' | sed -n 's/^ops\/s=//p')
      if [ -n "$ECAS" ] && [ "$ECAS" -gt 0 ]; then
        echo "run.sh: peer, same machine after the run: etcd $(etcd --version | awk '/etcd Version/ {print $3}') alone ($REPL member(s), fsync) took $ECAS compare-and-swap writes/s of $SIZE bytes from $INFLIGHT clients"
        awk -v e="$ECAS" -v t="$(field throughput_steady)" 'BEGIN {
          printf "run.sh: peer: that is %d pods/s at a pod'"'"'s three writes (create, binding, Running), %d at two (no kubelets); troupe steady / etcd at three writes: %.2fx, at two: %.2fx\n",
            e / 3, e / 2, (t + 0) / (e / 3), (t + 0) / (e / 2) }'
      else
        echo "run.sh: peer skipped: bench_etcd failed: $OUT"
      fi
    else
      echo "run.sh: peer skipped: etcd did not answer in 30 s ($(tail -1 "$D/etcd.log"))"
    fi
    for p in "${EPIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${EPIDS[@]}"; do wait "$p" 2>/dev/null; done
  fi
fi
[ "$VERDICT" = valid ] || exit 1
exit 0

#!/usr/bin/env bash
# Troupe's replicated store against etcd 3.4 (Debian's etcd-server), same machine, same run,
# loopback, fsync on for both: 1, 3 and 5 members, 1 and 64 clients, put / cas / linearizable get,
# 256 B values (and 4 KiB at 64 clients); then watch fan-out: 3 members, 1 writer, 1,000 watchers (50 per
# connection, connections spread over the 3 members), through the brokers on Troupe's side.
# Prints one line per run and two ratio tables (store operations, watch).
#   scripts/bench_store.sh [SECONDS] [ROWS]      (make bench runs it)
# ROWS: a regular expression on "members clients size op" (e.g. '^5 ' or 'watch') to run only
# those rows; the default runs all.
set -u
SECS=${1:-5}
ROWS=${2:-.}
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
command -v etcd >/dev/null || { echo "bench_store: etcd-server is not installed (scripts/deps.sh bench)"; exit 1; }
if [ ! -x "$BUILD/bench_etcd" ] || [ bench/etcd/main.go -nt "$BUILD/bench_etcd" ]; then
  (cd bench/etcd && GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE=${TMPDIR:-/tmp}/troupe-gocache \
     go build -o "$OLDPWD/$BUILD/bench_etcd" .) || { echo "bench_store: cannot build bench/etcd"; exit 1; }
fi
W=$(mktemp -d /var/tmp/troupe-bench-etcd.XXXXXX)
EPIDS=()
stop_etcd() { for p in "${EPIDS[@]}"; do kill "$p" 2>/dev/null; done; for p in "${EPIDS[@]}"; do wait "$p" 2>/dev/null; done; EPIDS=(); rm -rf "$W"/m*; }
trap 'stop_etcd; rm -rf "$W"' EXIT
BASE=$((10000 + $$ % 9000)) # below bench_cluster.h's ports and the ephemeral ones (32768+)
start_etcd() { # N members
  local n=$1 cluster="" eps=""
  for i in $(seq 1 "$n"); do cluster="$cluster${cluster:+,}m$i=http://127.0.0.1:$((BASE + 100 + i))"; done
  for i in $(seq 1 "$n"); do
    etcd --name m$i --data-dir "$W/m$i" --log-level error \
      --listen-client-urls http://127.0.0.1:$((BASE + i)) --advertise-client-urls http://127.0.0.1:$((BASE + i)) \
      --listen-peer-urls http://127.0.0.1:$((BASE + 100 + i)) --initial-advertise-peer-urls http://127.0.0.1:$((BASE + 100 + i)) \
      --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token bench >>"$W/etcd.log" 2>&1 &
    EPIDS+=($!)
    eps="$eps${eps:+,}http://127.0.0.1:$((BASE + i))"
  done
  for _ in $(seq 1 100); do ETCDCTL_API=3 etcdctl --endpoints "$eps" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
  ETCD_EPS=$eps
}
RESULTS=$W/results
: >"$RESULTS"
run() { # members clients size op
  [[ "$1 $2 $3 $4" =~ $ROWS ]] || return 0
  start_etcd "$1"
  "$BUILD/bench_etcd" -endpoints "$ETCD_EPS" -members "$1" -clients "$2" -size "$3" -op "$4" -seconds "$SECS" | tee -a "$RESULTS"
  stop_etcd
  "$BUILD/bench_raft" --members "$1" --clients "$2" --size "$3" --op "$4" --seconds "$SECS" 2>"$W/troupe.err" | tee -a "$RESULTS"
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "bench_store: bench_raft $* failed:"; tail -5 "$W/troupe.err"; }
}
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); etcd $(etcd --version | awk '/etcd Version/{print $3}')"
run_watch() { # members watchers per-connection
  [[ "$1 1 256 watch" =~ $ROWS ]] || return 0
  start_etcd "$1"
  "$BUILD/bench_etcd" -endpoints "$ETCD_EPS" -members "$1" -op watch -watchers "$2" -per-conn "$3" -size 256 \
    -seconds "$SECS" | tee -a "$RESULTS"
  stop_etcd
  "$BUILD/bench_watch" --members "$1" --watchers "$2" --per-conn "$3" --size 256 --seconds "$SECS" 2>/dev/null |
    tee -a "$RESULTS"
}
for m in 1 3 5; do
  for c in 1 64; do
    for o in put cas get; do run $m $c 256 $o; done
  done
  for o in put cas get; do run $m 64 4096 $o; done
done
run_watch 3 1000 50
echo
echo "| members | clients | value | op | Troupe ops/s | p50 ms | p99 ms | etcd ops/s | p50 ms | p99 ms | Troupe/etcd |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
awk '
  / op=watch / || / MISMATCH/ { next }
  { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    k = f["members"] " | " f["clients"] " | " f["size"] " | " f["op"]
    if ($1 == "etcd") { e[k] = f["ops/s"]; ep50[k] = f["p50_ms"]; ep99[k] = f["p99_ms"]; order[++n] = k }
    else { t[k] = f["ops/s"]; tp50[k] = f["p50_ms"]; tp99[k] = f["p99_ms"] } }
  END { for (i = 1; i <= n; i++) { k = order[i]
          printf "| %s | %s | %s | %s | %s | %s | %s | %.2fx |\n", k, t[k], tp50[k], tp99[k], e[k], ep50[k], ep99[k], (e[k] > 0 ? t[k] / e[k] : 0) } }' "$RESULTS"
if grep -q " op=watch " "$RESULTS"; then
  echo
  echo "| members | watchers | per conn | spread over | system | writes/s | put p50 ms | events/s | delivery p50 ms | p99 ms | p50 on leader / followers ms | delivered / expected |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  awk '
    / MISMATCH/ || !/ op=watch / { next }
    { delete f; for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      k = f["members"] " | " f["watchers"] " | " f["per_conn"] " | " f["spread"]
      printf "| %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s |\n", k, ($1 == "etcd" ? "etcd" : "Troupe"),
        f["writes/s"], f["put_p50_ms"], f["events/s"], f["p50_ms"], f["p99_ms"], f["leader_p50_ms"],
        f["follower_p50_ms"], f["delivered"], f["expected"]
      if ($1 == "etcd") { e[k] = f["events/s"]; order[++n] = k } else t[k] = f["events/s"] }
    END { for (i = 1; i <= n; i++) if (order[i] in t)
            printf "\nwatch %s: Troupe/etcd events/s %.2fx\n", order[i], (e[order[i]] > 0 ? t[order[i]] / e[order[i]] : 0) }' "$RESULTS"
fi
if grep -q "MISMATCH" "$RESULTS"; then
  echo
  echo "!!! EVENTS LOST OR REPEATED: a benchmark that loses events is a bug, not a figure:"
  grep "MISMATCH" "$RESULTS"
  exit 3
fi

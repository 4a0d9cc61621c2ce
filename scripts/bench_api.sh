#!/usr/bin/env bash
# bench/api against a real `troupe server` process (its RSS measured by PID): the matrix
# (create/get/list/watch at 1, 16, 200 clients, without and with a stopped watcher), a flood
# (200 clients x 32 writes in flight for 20 s; polite clients, then clients that ignore the
# retry hint), then paged lists of 10,000 vs 1,000 Pods
# (in-process store + broker: a server's scheduler would write an Event per unschedulable pod).
#   BUILD=build scripts/bench_api.sh [N=10000] [FLOOD_SECONDS=20]
set -u
BUILD=${BUILD:-build}
N=${N:-10000}
FLOOD_SECONDS=${FLOOD_SECONDS:-20}
T=$(mktemp -d /tmp/troupe-bench-api.XXXXXX)
"$BUILD/troupe" server --data "$T/srv" --no-supervise >"$T/server.log" 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null; for _ in $(seq 1 50); do kill -0 $SRV 2>/dev/null || break; sleep 0.2; done; kill -9 $SRV 2>/dev/null; rm -rf "$T"' EXIT
EP="ipc://$T/srv/run/troupe.sock"
for _ in $(seq 1 100); do "$BUILD/troupe" --server "$EP" get namespaces >/dev/null 2>&1 && break; sleep 0.2; done
echo "machine: $(nproc) cpus, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/bench_api" --matrix --n "$N" --endpoint "$EP" --pid $SRV
"$BUILD/bench_api" --flood "$FLOOD_SECONDS" --clients 200 --inflight 32 --endpoint "$EP" --pid $SRV
"$BUILD/bench_api" --flood "$FLOOD_SECONDS" --clients 200 --inflight 32 --endpoint "$EP" --pid $SRV --ignore-retry-after
"$BUILD/bench_api" --paging

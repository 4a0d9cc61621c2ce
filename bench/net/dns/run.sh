#!/usr/bin/env bash
# The cluster DNS (bench_dns: actors/dns's answer path and sockets, one thread) against nsd (one
# server process) serving the same N names from a zone file, measured with dnsperf in the same run,
# alternated twice. Queries: every Service's A, one in ten an unknown name (NXDOMAIN).
# usage: bench/net/dns/run.sh [BUILD_DIR] [N] [SECONDS] [CLIENTS_IN_FLIGHT]
set -eu
build=${1:-build}; n=${2:-1000}; secs=${3:-10}; inflight=${4:-100}
for t in nsd dnsperf; do command -v $t >/dev/null || { echo "SKIP: $t is not installed (scripts/deps.sh bench)"; exit 77; }; done
W=$(mktemp -d /tmp/troupe-dnsbench.XXXXXX); BASE=$((20000 + $$ % 12000)); P1=$BASE; P2=$((BASE + 1)); PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$W"; }
trap cleanup EXIT
"$build/bench_dns" --n "$n" --port "$P1" --zone "$W/cluster.local.zone" --queries "$W/q.txt" >"$W/troupe.out" 2>&1 & PIDS+=($!)
for _ in $(seq 1 50); do grep -q ready "$W/troupe.out" 2>/dev/null && break; sleep 0.1; done
cat >"$W/nsd.conf" <<C
server:
  ip-address: 127.0.0.1
  port: $P2
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$W"
  pidfile: "$W/nsd.pid"
  xfrdfile: "$W/xfrd.state"
  zonelistfile: "$W/zone.list"
  xfrdir: "$W"
  logfile: "$W/nsd.log"
  verbosity: 0
  # response rate limiting (on by default in Debian's nsd: 200 qps per /24) would drop a benchmark
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: cluster.local
  zonefile: cluster.local.zone
C
nsd -d -c "$W/nsd.conf" >"$W/nsd.out" 2>&1 & PIDS+=($!)
for _ in $(seq 1 50); do dig @127.0.0.1 -p "$P2" +short +tries=1 +time=1 svc-0.ns-0.svc.cluster.local A 2>/dev/null | grep -q 10.96 && break; sleep 0.2; done
dig @127.0.0.1 -p "$P1" +short svc-0.ns-0.svc.cluster.local A | grep -q 10.96.1.1 || { echo "bench_dns not answering"; cat "$W/troupe.out"; exit 1; }
dig @127.0.0.1 -p "$P2" +short svc-0.ns-0.svc.cluster.local A | grep -q 10.96.1.1 || { echo "nsd not answering"; cat "$W/nsd.out" "$W/nsd.log" 2>/dev/null; exit 1; }
run() { # name port  (-v: one line per answer with its latency, for the p99)
  dnsperf -s 127.0.0.1 -p "$2" -d "$W/q.txt" -l "$secs" -q "$inflight" -c 1 -T 1 -v >"$W/perf.out" 2>&1
  local out; out=$(grep -v '^> ' "$W/perf.out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$(awk '/Queries per second/ {print $4}' <<<"$out")" \
    "$(awk '/Average Latency/ {print $4*1000 " ms"}' <<<"$out")" \
    "$(awk '/^> / {print $NF}' "$W/perf.out" | sort -g | awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; print v[i]*1000 " ms"}')" \
    "$(awk '/Queries lost/ {print $3}' <<<"$out")" "$(grep -oE 'NOERROR [0-9]+|NXDOMAIN [0-9]+' <<<"$out" | tr '\n' ' ')"
}
echo -e "server\tqps\tavg latency\tp99 latency\tlost\trcodes"
for round in 1 2; do run troupe-dns "$P1"; run nsd "$P2"; done

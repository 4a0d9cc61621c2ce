#!/usr/bin/env bash
# The broker never blocks on one client. A `troupe get configmaps -w` is frozen (SIGSTOP) while
# other clients create 10,000 ConfigMaps: every create is answered and the run is not much slower
# than the same run without the frozen watcher (both measured, ratios printed; bounds: time 3x,
# the creates' p99 2x). 2,000
# more push its position out of the broker's 10,000-event window (a fixed ring: --watch-cache-size
# 10000; by default the ring grows to keep 75 s of events, tested in test_broker); thawed, the watcher says it was
# cut (or that its revision is gone, then relists) and resumes: it sees a later object. Then a light flood: 100
# clients keeping 32 writes each in flight for 5 s: every request answered (OK or
# TooManyRequests), no client starved, the server's RSS growth bounded.
. "$(dirname "$0")/lib.sh"
BENCH=${TROUPE_BUILD:-$(dirname "$TROUPE")}/bench_api
[ -x "$BENCH" ] || { echo "bench_api not built ($BENCH)"; exit 1; }
EP="ipc://$T/srv/run/troupe.sock"
"$TROUPE" server --data "$T/srv" --no-supervise --watch-cache-size 10000 >>"$T/server.log" 2>&1 &
SRV=$!
PIDS+=($SRV)
"$TROUPE" server --data "$T/bad" --watch-cache-size lots >"$T/bad.out" 2>&1 && fail "--watch-cache-size lots accepted"
grep -q 'watch-cache-size lots: must be a number' "$T/bad.out" || fail "bad --watch-cache-size: $(cat "$T/bad.out")"
wait_for 30 tro --server "$EP" get namespaces || fail "server not serving on $EP"

N=10000
"$BENCH" --endpoint "$EP" --creates $N --clients 16 --prefix base >"$T/base.out" 2>&1 || fail "baseline creates: $(cat "$T/base.out")"
echo "without a stopped watcher: $(cat "$T/base.out")"

"$TROUPE" --server "$EP" get configmaps -w >"$T/watch.out" 2>"$T/watch.err" &
W=$!
PIDS+=($W)
tro --server "$EP" create configmap before-stop --from-literal k=v >/dev/null || fail "create before-stop"
wait_for 30 grep -q before-stop "$T/watch.out" || fail "the watcher did not print before-stop"
kill -STOP $W
pass "watcher streaming, then frozen (SIGSTOP)"

"$BENCH" --endpoint "$EP" --creates $N --clients 16 --prefix stop >"$T/stop.out" 2>&1 || fail "creates beside a frozen watcher: $(cat "$T/stop.out")"
echo "with a stopped watcher:    $(cat "$T/stop.out")"
read -r _ _ _ BOK _ _ _ _ _ _ _ BSECS _ _ _ BP99 <"$T/base.out"
read -r _ _ _ SOK _ _ _ _ _ _ _ SSECS _ _ _ SP99 <"$T/stop.out"
[ "$BOK" = $N ] && [ "$SOK" = $N ] || fail "not every create answered OK: $BOK, $SOK of $N"
RATIO=$(awk -v a="$SSECS" -v b="$BSECS" 'BEGIN { printf "%.2f", a / b }')
P99R=$(awk -v a="$SP99" -v b="$BP99" 'BEGIN { printf "%.2f", a / b }')
echo "ratio stopped/baseline: time ${RATIO}x, p99 ${P99R}x"
awk -v r="$RATIO" 'BEGIN { exit !(r < 3) }' || fail "creates beside a frozen watcher took ${RATIO}x as long (bound 3x)"
# the issue's bound: the others' p99 within 2x of the same run without the stopped watcher
# (measured 0.94-1.13x); an ASan build only reports it
if [ "${TROUPE_SANITIZED:-0}" != 1 ]; then
  awk -v r="$P99R" 'BEGIN { exit !(r < 2) }' || fail "creates' p99 beside a frozen watcher was ${P99R}x the p99 without it (bound 2x)"
fi
pass "$N creates beside a frozen watcher: all answered, ${RATIO}x the time without it (p99 ${P99R}x)"

# 2,000 more while it is still frozen: its position leaves the broker's window of 10,000 events
"$BENCH" --endpoint "$EP" --creates 2000 --clients 16 --prefix more >"$T/more.out" 2>&1 || fail "more creates: $(cat "$T/more.out")"
kill -CONT $W
tro --server "$EP" create configmap after-cont --from-literal k=v >/dev/null || fail "create after-cont"
wait_for 40 grep -q after-cont "$T/watch.out" || fail "the thawed watcher did not resume: $(tail -3 "$T/watch.err")"
# it lost its place one of two ways, whichever the broker noticed first: its watch cut (its pipe
# full while it was stopped: the next pong says watchesCut) or its position gone from the window
# (the watch answered Expired: relist, as a reflector on 410 Gone). Under load (an ASan build
# beside other tests) the second comes first.
CUT='watch cut|is no longer available .*relisting'
grep -Eq "$CUT" "$T/watch.err" || fail "the thawed watcher did not say it lost its place: $(cat "$T/watch.err")"
kill -0 $W || fail "the watcher exited"
pass "thawed watcher: '$(grep -Em1 "$CUT" "$T/watch.err" | cut -c1-100)…', resumed, saw a later object"
kill $W

"$BENCH" --endpoint "$EP" --pid $SRV --flood 5 --clients 100 --inflight 32 >"$T/flood.out" 2>&1 || fail "flood: $(cat "$T/flood.out")"
cat "$T/flood.out"
# the bound is on growth (ASan builds start several times larger): the flood may add its live
# objects (at most 3,200) and the ring's 10,000 events, not queues
BEFORE=$(sed -n 's/.*RSS before \([0-9]*\) MiB.*/\1/p' "$T/flood.out" | head -1)
PEAK=$(sed -n 's/.*peak \([0-9]*\) MiB.*/\1/p' "$T/flood.out" | tail -1)
[ -n "$PEAK" ] && [ -n "$BEFORE" ] && [ $((PEAK - BEFORE)) -lt 256 ] ||
  fail "server RSS grew from ${BEFORE:-?} to ${PEAK:-?} MiB during the flood (bound +256 MiB)"
pass "flood: every request answered, no client starved, server RSS ${BEFORE} -> peak ${PEAK} MiB (bound +256)"

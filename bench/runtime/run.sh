#!/usr/bin/env bash
# bench/runtime — the node's speed beside floors measured in the same run (docs/benchmarks.md):
#  1. pod startup, create → Running, for 1, 10 and 50 pods created at once on one node with the
#     image already pulled, p50/p99, oci and process runtimes (`troupe up`; the client's watch
#     timestamps each pod's first Running), beside bench_runtime's floors on the same image's
#     bundle: `runc run -d` alone, conmon + runc as ocirun.c starts them (no agent, shim,
#     store, overlayfs or CNI), and that plus each container's pod network made first as the
#     shim makes it (pinned netns, CNI loopback + bridge + host-local: the floor of a pod);
#  2. pull of a ~100 MB image (one random layer made now) from a loopback docker-registry: the
#     shim's pull (its log's "pulling" → "pulled") beside `skopeo copy` of it to a dir;
#  3. memory per running container: conmon's RSS, the shim's RSS divided by the containers, with
#     50 oci pods running (containerd-shim-runc-v2 is about 10 MiB per pod).
# usage: sudo bench/runtime/run.sh [BUILD_DIR (build)]   Needs root, runc, conmon, umoci, skopeo,
# docker-registry, busybox-static, jq. Prints markdown rows and a JSON summary line.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(realpath "${1:-$SRC/build}")
export TROUPE=$BUILD/troupe
. "$SRC/tests/e2e/lib.sh"
need_images
cd "$T" || fail "no temp dir"
BASE=$((20000 + $$ % 12000)); REG=127.0.0.1:$BASE; IMG=$REG/bench/busybox:1; BIG=$REG/bench/big:1
MARK=bench-rt-$$
ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((NR-1)*p+0.5)+1; printf "%d", a[i]}'; }

registry_start "$T/reg" "$BASE"
image_build "$T/img" "$MARK" || fail "image build"
image_push "$T/img" "$IMG" || fail "image push"
# the same image as a runc bundle, running sleep
umoci unpack --image "$T/img/layout:1" "$T/bundle" >/dev/null || fail "umoci unpack"
jq '.process.args=["/bin/sleep","3600"] | .process.terminal=false' "$T/bundle/config.json" >"$T/c.json" && mv "$T/c.json" "$T/bundle/config.json"

declare -A R
echo "# floors (bench_runtime)" >&2
for n in 1 10 50; do
  for mode in runc conmon pod; do
    out=$("$BUILD/bench_runtime" --bundle "$T/bundle" --n "$n" --mode "$mode" --work "$T/fw-$mode-$n") || fail "bench_runtime $mode $n: $out"
    R[$mode-$n]="$(jq -r '"\(.p50_ms|floor) \(.p99_ms|floor)"' <<<"$out")"
    echo "$out" >&2
  done
done

DATA=$T/d; N=bench$$
( exec "$TROUPE" up --data "$DATA" --node-name "$N" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
ready() { [ "$(tro get nodes "$N" -o json 2>/dev/null | jq -r '.status.conditions[]? | select(.type=="Ready") | .status')" = True ]; }
wait_for 60 ready || fail "node not Ready"
pods_yaml() { # RUNTIME N IMAGE → N pods labelled run=$1-$2
  local i
  for i in $(seq 1 "$2"); do
    printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s-%s-%s, labels: {run: %s-%s}}\nspec:\n  runtimeClassName: %s\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: %s\n    imagePullPolicy: IfNotPresent\n    command: ["/bin/sleep", "3600"]\n' \
      "$1" "$2" "$i" "$1" "$2" "$1" "$3"
  done
}
all_running() { [ "$(tro get pods -l "run=$1" -o json | jq '[.items[] | select(.status.phase=="Running")] | length')" = "$2" ]; }
none_left() { [ "$(tro get pods -l "run=$1" -o json | jq '.items | length')" = 0 ]; }
# warm-up: the image pulled, the node's first sandbox made
pods_yaml oci 1 "$IMG" | sed 's/oci-1-1/warm/; s/run: oci-1/run: warm/' >"$T/warm.yaml"
tro apply -f "$T/warm.yaml" >/dev/null; wait_for 90 all_running warm 1 || fail "warm-up pod not Running"
tro delete -f "$T/warm.yaml" >/dev/null; wait_for 60 none_left warm || fail "warm-up pod not deleted"

SHIM_RSS=0; CONMON_RSS=0; CONMON_N=0
startup() { # RUNTIME N → "p50 p99" ms, create → Running as the client's watch sees it
  local rt=$1 n=$2 f=$T/pods-$1-$2.yaml w=$T/watch-$1-$2.txt
  pods_yaml "$rt" "$n" "$IMG" >"$f"
  "$TROUPE" get pods -w -l "run=$rt-$n" 2>/dev/null > >(while read -r name _ st _; do echo "$(( ${EPOCHREALTIME/./} / 1000 )) $name $st"; done >"$w") &
  local wp=$!
  sleep 1
  local t0; t0=$(ms)
  tro apply -f "$f" >/dev/null || fail "apply $f"
  wait_for 180 all_running "$rt-$n" "$n" || fail "$n $rt pods not Running: $(tro get pods -l "run=$rt-$n" | tail -5)"
  sleep 0.5
  if [ "$rt" = oci ] && [ "$n" = 50 ]; then
    { ps -o rss= -p "$(pgrep -f "troupe shim .*$DATA" | head -1)"
      for p in $(pgrep -x conmon); do grep -q "$DATA/oci/exits" "/proc/$p/cmdline" 2>/dev/null && ps -o rss= -p "$p"; done | awk '{s+=$1; n++} END {print s+0, n+0}'
    } >"$T/rss" # startup runs in a command substitution: a file, not variables
  fi
  kill "$wp" 2>/dev/null; wait "$wp" 2>/dev/null; sleep 0.2
  awk -v t0="$t0" '$3=="Running" && !($2 in s) {s[$2]=$1-t0} END {for (k in s) print s[k]}' "$w" >"$w.lat"
  [ "$(wc -l <"$w.lat")" = "$n" ] || echo "warning: the watch saw $(wc -l <"$w.lat") of $n pods Running" >&2
  echo "$(pct 0.5 <"$w.lat") $(pct 0.99 <"$w.lat")"
  tro delete -f "$f" >/dev/null
  wait_for 120 none_left "$rt-$n" || fail "$rt-$n pods not deleted"
}
echo "# troupe startup" >&2
for rt in oci process; do
  for n in 1 10 50; do R[$rt-$n]=$(startup "$rt" "$n"); echo "$rt $n: ${R[$rt-$n]}" >&2; done
done

read -r SHIM_RSS <"$T/rss"; read -r CONMON_RSS CONMON_N < <(tail -1 "$T/rss")
# pull: a ~100 MB random layer
echo "# pull" >&2
cp -r "$T/img" "$T/big" && rm -rf "$T/big/bundle"
umoci unpack --image "$T/big/layout:1" "$T/big/bundle" >/dev/null && rm -rf "$T/big/bundle/rootfs/marker" &&
  head -c 100M /dev/urandom >"$T/big/bundle/rootfs/random.bin" &&
  umoci repack --image "$T/big/layout:1" "$T/big/bundle" >/dev/null && image_push "$T/big" "$BIG" || fail "big image"
SIZE=$(du -sb "$T/reg/data" | awk '{print $1}')
t0=$(ms); skopeo copy -q --src-tls-verify=false "docker://$BIG" "dir:$T/skopeo" >/dev/null || fail "skopeo copy"; SKOPEO_MS=$(( $(ms) - t0 ))
pods_yaml oci 1 "$BIG" | sed 's/oci-1-1/big/; s/run: oci-1/run: big/' >"$T/bigpod.yaml"
tro apply -f "$T/bigpod.yaml" >/dev/null; wait_for 300 all_running big 1 || fail "big pod not Running"
ts() { date -d "$1" +%s%3N; }
P0=$(grep -m1 "pulling image=$BIG" "$T/up.log" | awk '{print $1}'); P1=$(grep -m1 "pulled image=$BIG" "$T/up.log" | awk '{print $1}')
PULL_MS=$(( $(ts "$P1") - $(ts "$P0") ))
LAYER=$(du -b "$T/skopeo" | awk '{print $1}')
tro delete -f "$T/bigpod.yaml" >/dev/null; wait_for 60 none_left big
mbps() { awk -v b="$LAYER" -v m="$1" 'BEGIN {printf "%.0f", b / 1048576 / (m / 1000)}'; }

kill "$UP"; wait "$UP" 2>/dev/null
cat <<EOF
| pods at once | oci p50 / p99 | process p50 / p99 | runc run alone p50 / p99 | conmon + runc p50 / p99 | conmon + runc + CNI p50 / p99 | oci p99 ÷ conmon+runc p99 | oci p99 ÷ conmon+runc+CNI p99 |
|---|---|---|---|---|---|---|---|
EOF
for n in 1 10 50; do
  read -r o50 o99 <<<"${R[oci-$n]}"; read -r p50 p99 <<<"${R[process-$n]}"
  read -r r50 r99 <<<"${R[runc-$n]}"; read -r c50 c99 <<<"${R[conmon-$n]}"; read -r k50 k99 <<<"${R[pod-$n]}"
  echo "| $n | $o50 / $o99 ms | $p50 / $p99 ms | $r50 / $r99 ms | $c50 / $c99 ms | $k50 / $k99 ms | $(awk -v a="$o99" -v b="$c99" 'BEGIN {printf "%.1f×", a / (b ? b : 1)}') | $(awk -v a="$o99" -v b="$k99" 'BEGIN {printf "%.1f×", a / (b ? b : 1)}') |"
done
echo
echo "| pull of $(awk -v b="$LAYER" 'BEGIN {printf "%.0f", b/1048576}') MiB from a loopback registry | time | MiB/s |"
echo "|---|---|---|"
echo "| troupe (shim: pulling → pulled, verified, unpacked) | $PULL_MS ms | $(mbps "$PULL_MS") |"
echo "| skopeo copy to dir: (no unpack) | $SKOPEO_MS ms | $(mbps "$SKOPEO_MS") |"
echo
echo "| memory with 50 oci pods running | total | per container |"
echo "|---|---|---|"
echo "| conmon ($CONMON_N processes) | $((CONMON_RSS / 1024)) MiB | $(awk -v s="$CONMON_RSS" -v n="$CONMON_N" 'BEGIN {printf "%.2f", s / 1024 / (n ? n : 1)}') MiB |"
echo "| troupe shim (one per node) | $((SHIM_RSS / 1024)) MiB | $(awk -v s="$SHIM_RSS" 'BEGIN {printf "%.2f", s / 1024 / 50}') MiB |"
echo "{\"registry_bytes\": $SIZE, \"pull_ms\": $PULL_MS, \"skopeo_ms\": $SKOPEO_MS, \"shim_rss_kib\": $SHIM_RSS, \"conmon_rss_kib\": $CONMON_RSS, \"conmon_n\": $CONMON_N}"

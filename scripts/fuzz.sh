#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD for SECONDS each, on its seed corpus (tests/fuzz/corpus/<name>).
set -eu
build=$1; seconds=${2:-60}
fail=0
for t in "$build"/fuzz_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t"); seeds=tests/fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d)
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/ 2>/dev/null || true
  # layers: seeds made here (no binary in the tree): a tree with a file, a symlink, a whiteout, an
  # opaque dir and a hard link, as plain tar and gzip
  if [ "$name" = fuzz_layer ]; then
    lt=$(mktemp -d); mkdir -p "$lt/a/b" "$lt/o"; echo hi >"$lt/a/b/f"; ln -s ../x "$lt/a/l"; ln "$lt/a/b/f" "$lt/a/h"
    touch "$lt/a/.wh.gone" "$lt/o/.wh..wh..opq"
    tar -C "$lt" -cf "$work/seed.tar" . && tar -C "$lt" -czf "$work/seed.tgz" .; rm -rf "$lt"
  fi
  # a small parser saturates its coverage in seconds: a quarter of the time (keeps `make test` short)
  case $name in fuzz_quantity|fuzz_encryption|fuzz_cni_result|fuzz_layer|fuzz_crilog|fuzz_dns) secs=$(( (seconds + 3) / 4 )) ;; *) secs=$seconds ;; esac
  echo "fuzz: $name for ${secs}s"
  mkdir -p "$work.tmp"
  if ! TMPDIR="$work.tmp" "$t" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "$work" >"$work.log" 2>&1; then
    echo "fuzz: $name FAILED"; tail -40 "$work.log"; fail=1
  else
    grep -E 'stat::number_of_executed_units|Done' "$work.log" | tail -2
  fi
  rm -rf "$work" "$work.log" "$work.tmp"
done
exit $fail

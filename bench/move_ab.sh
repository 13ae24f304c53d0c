#!/usr/bin/env bash
# Benchmark: two crashctl builds moving the same kind of spool, alternating so that each sees
# the same disk state on average. Each round builds a fresh spool (examples/make_spool.rs,
# 2 KiB dumps, 100 crashes a minute shard), flushes it, and times
# `crashctl move --quiet --verify -j 8` into a fresh directory store and queue.
#
# Usage: bench/move_ab.sh OLD_BINARY NEW_BINARY     (N=20000 crashes, ROUNDS=3)
set -euo pipefail
cd "$(dirname "$0")/.."

(($# == 2)) || { echo "usage: bench/move_ab.sh OLD_BINARY NEW_BINARY" >&2; exit 2; }
N=${N:-20000}
ROUNDS=${ROUNDS:-3}
OUT=bench/out/move_ab
cargo build --release --quiet --example make_spool
MAKE=target/release/examples/make_spool

rm -rf "$OUT" && mkdir -p "$OUT"
for ((round = 1; round <= ROUNDS; round++)); do
    k=0
    for bin in "$@"; do
        k=$((k + 1))
        dir="$OUT/$round-$k"
        "$MAKE" "$dir/spool" "$N" 2048 100 > /dev/null
        sync -f "$dir/spool"
        t0=$(date +%s.%N)
        "$bin" move --quiet --verify -j 8 --spool "$dir/spool" --store "$dir/store" --queue "$dir/queue" \
            --format json > "$dir/summary.json"
        t1=$(date +%s.%N)
        moved=$(grep -o '"moved": [0-9]*' "$dir/summary.json" | grep -o '[0-9]*$')
        [[ $moved == "$N" ]] || { echo "bench: $bin moved $moved of $N" >&2; exit 1; }
        awk -v b="$bin" -v a="$t0" -v c="$t1" -v n="$N" 'BEGIN { printf "%-45s %8.2f s %8.0f crashes/s\n", b, c - a, n / (c - a) }'
    done
done
rm -rf "$OUT"

#!/usr/bin/env bash
# Benchmark: `crashctl stats` against `find SPOOL -type f | wc -l` on the same spool of N
# crashes (default 1,000,000: 1M crash directories, 2M small files), warm cache.
#
#   bench/stats.sh [DIR] [N]      (DIR default /tmp/crashctl-stats-bench)
#
# The spool is built once (examples/build_spool.rs, the library's own Spool::save without
# fsync) as DIR/spool and reused while DIR/spool.built-N exists. Nothing is dropped from the
# caches: one untimed `find` warms them, then find and stats run alternately RUNS times each
# (default 3); the medians and the ratio stats/find are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/crashctl-stats-bench}
N=${2:-1000000}
RUNS=${RUNS:-3}
SPOOL=$DIR/spool
BIN=target/release/crashctl

cargo build --release --quiet --bin crashctl --example build_spool
if [ ! -e "$DIR/spool.built-$N" ]; then
    rm -rf "$SPOOL" "$DIR"/spool.built-*
    mkdir -p "$DIR"
    echo "building a spool of $N crashes in $SPOOL (once; reused later) ..." >&2
    t0=$(date +%s.%N)
    target/release/examples/build_spool "$SPOOL" "$N" 48
    t1=$(date +%s.%N)
    touch "$DIR/spool.built-$N"
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "built in %.0f s\n", b - a }' >&2
fi

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

files=$(find "$SPOOL" -type f | wc -l) # warm-up, untimed
crashes=$("$BIN" --quiet stats --spool "$SPOOL" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["spool"]["crashes"])')
echo "spool $SPOOL: find sees $files files, crashctl stats sees $crashes crashes"

find_times=() stats_times=()
for i in $(seq "$RUNS"); do
    t0=$(now); find "$SPOOL" -type f | wc -l >/dev/null; t1=$(now)
    find_times+=("$(elapsed "$t0" "$t1")")
    t0=$(now); "$BIN" --quiet stats --spool "$SPOOL" --format json >/dev/null; t1=$(now)
    stats_times+=("$(elapsed "$t0" "$t1")")
    echo "run $i: find ${find_times[-1]} s, crashctl stats ${stats_times[-1]} s"
done
fm=$(median "${find_times[@]}")
sm=$(median "${stats_times[@]}")
echo "median: find $fm s, crashctl stats $sm s"
awk -v f="$fm" -v s="$sm" 'BEGIN { printf "ratio stats/find: %.2f (limit 1.50)\n", s / f }'

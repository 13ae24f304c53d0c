#!/usr/bin/env bash
# Benchmark of `crashctl move`: cost per crash must not grow with the backlog.
#
# Builds spools of 1,000 and 100,000 small crashes (examples/make_spool.rs, no fsync, 100
# crashes per minute shard, 2 KiB dumps, 10% DEFER), flushes them to disk, moves each with
# `crashctl move --verify` (release build) and prints crashes/s for each; then compares with the
# floor, `cp -r` + `rm -rf` of an identical spool of the largest size, under equal conditions:
# each side gets a freshly built and flushed spool (the same cache state), every measurement
# starts PAUSE seconds after the previous deletion (ext4 skips recently freed inodes for about
# a minute, see bench/collect.sh), and the two sides alternate, ROUNDS times each.
#
# Usage: bench/move.sh [SIZES...]   (default: 1000 100000; BENCH_DIR=... to choose the disk,
# JOBS=N for -j (default 8), DUMP_BYTES=N for the dump size, ROUNDS=N (default 2), PAUSE=S
# (default 70), SERIAL=1 to also time -j 1 on the largest size against the same floor)
# Pass criteria (issue 4): rate(100k) >= 0.8 x rate(1k); time(100k) within 2x of cp -r + rm -rf.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=("${@:-1000 100000}")
read -r -a SIZES <<<"${SIZES[*]}"
BENCH_DIR=${BENCH_DIR:-bench/out/move}
JOBS=${JOBS:-8}
DUMP_BYTES=${DUMP_BYTES:-2048}
ROUNDS=${ROUNDS:-2}
PAUSE=${PAUSE:-70}
LAST_DELETE=0

echo "== building (release)" >&2
cargo build --release --quiet --bin crashctl --example make_spool
BIN=target/release/crashctl
MAKE=target/release/examples/make_spool

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }

# make_spool DIR N: a fresh spool, flushed to disk so that every run starts from the same state,
# PAUSE seconds after the last deletion
make_spool() {
    "$MAKE" "$1" "$2" "$DUMP_BYTES" 100
    sync -f "$1"
    local wait_s=$((LAST_DELETE + PAUSE - $(date +%s)))
    if ((wait_s > 0)); then echo "== pausing ${wait_s} s after the last deletion" >&2; sleep "$wait_s"; fi
}
deleted() { LAST_DELETE=$(date +%s); }

# run_move N JOBS: moves a fresh spool of N crashes; sets LAST_TIME
run_move() {
    local n=$1 jobs=$2 dir="$BENCH_DIR/$1-j$2"
    echo "== spool of $n crashes, -j $jobs" >&2
    make_spool "$dir/spool" "$n"
    local t0 t1 moved
    t0=$(now)
    "$BIN" move --quiet --verify -j "$jobs" --spool "$dir/spool" --store "$dir/store" --queue "$dir/queue" \
        --format json >"$dir/summary.json"
    t1=$(now)
    moved=$(grep -o '"moved": [0-9]*' "$dir/summary.json" | grep -o '[0-9]*$')
    [ "$moved" = "$n" ] || { echo "moved $moved of $n" >&2; exit 1; }
    LAST_TIME=$(secs "$t0" "$t1")
    printf 'move -j %-2d %7d crashes: %8.2f s  %8.0f crashes/s  (load %s)\n' "$jobs" "$n" "$LAST_TIME" \
        "$(echo "$n / $LAST_TIME" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
    rm -rf "$dir"
    deleted
}

# run_floor N: cp -r + rm -rf of a fresh spool of N crashes; sets LAST_TIME
run_floor() {
    local dir="$BENCH_DIR/floor"
    echo "== floor: cp -r + rm -rf of a spool of $1 crashes" >&2
    make_spool "$dir/spool" "$1"
    local t0 t1
    t0=$(now)
    cp -r "$dir/spool" "$dir/copy"
    rm -rf "$dir/spool"
    t1=$(now)
    LAST_TIME=$(secs "$t0" "$t1")
    printf 'cp -r + rm -rf %7d crashes: %8.2f s  %8.0f crashes/s  (load %s)\n' "$1" "$LAST_TIME" \
        "$(echo "$1 / $LAST_TIME" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
    rm -rf "$dir"
    deleted
}

declare -A RATE TIME
for n in "${SIZES[@]}"; do
    run_move "$n" "$JOBS"
    TIME[$n]=$LAST_TIME
    RATE[$n]=$(echo "$n / $LAST_TIME" | bc -l)
done

small=${SIZES[0]}
big=${SIZES[${#SIZES[@]}-1]}
if [ "$small" != "$big" ]; then
    printf 'per-crash rate %d vs %d: %.2fx (must be >= 0.80)\n' "$big" "$small" \
        "$(echo "${RATE[$big]} / ${RATE[$small]}" | bc -l)"
fi

# alternating: move, floor, floor, move, move, floor, ... (the first size loop already moved $big once)
MOVES=("${TIME[$big]}") FLOORS=()
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2 == 1)); then
        if ((round > 1)); then run_move "$big" "$JOBS"; MOVES+=("$LAST_TIME"); fi
        run_floor "$big"; FLOORS+=("$LAST_TIME")
    else
        run_floor "$big"; FLOORS+=("$LAST_TIME")
        run_move "$big" "$JOBS"; MOVES+=("$LAST_TIME")
    fi
done
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { print s / NR }'; }
move_mean=$(mean "${MOVES[@]}") floor=$(mean "${FLOORS[@]}")
printf 'crashctl move --verify -j %d vs cp -r + rm -rf: %.2fx the time (means of %d and %d alternating runs; target <= 2.00)\n' \
    "$JOBS" "$(echo "$move_mean / $floor" | bc -l)" "${#MOVES[@]}" "${#FLOORS[@]}"

if [ -n "${SERIAL:-}" ]; then
    # the same work one crash at a time, as cp and rm do it
    run_move "$big" 1
    printf 'crashctl move --verify -j 1 vs cp -r + rm -rf: %.2fx the time\n' "$(echo "$LAST_TIME / $floor" | bc -l)"
fi

#!/usr/bin/env bash
# Benchmark of `crashctl move` into S3 + SQS (a local moto server): -j 1 vs -j 16.
#
# For each -j: builds a spool of N small crashes (examples/make_spool.rs: 2 KiB dumps, 10% DEFER,
# 100 crashes per minute shard), starts a fresh moto server of its own on 127.0.0.1 (so neither
# run sees the other's objects), moves the spool into s3://bench/prod + sqs://bench with
# --create-bucket --create-queues (release build), checks that every crash was moved, and prints
# crashes/s; then the ratio -j 16 / -j 1. Each crash is 3 PUTs (dump, dump names, raw crash);
# accepted crashes are published 10 to a SendMessageBatch.
#
# Usage: bench/move_s3.sh [N]   (default 10000; JOBS="1 16" to choose the -j values,
# DUMP_BYTES=N for the dump size, BENCH_DIR=... for the spools; moto_server from PATH or
# CRASHCTL_TEST_MOTO_SERVER, else `python3 -m moto.server`; .ci/moto.sh installs it)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-10000}
read -r -a JOBS <<<"${JOBS:-1 16}"
BENCH_DIR=${BENCH_DIR:-bench/out/move_s3}
DUMP_BYTES=${DUMP_BYTES:-2048}

echo "== building (release)" >&2
cargo build --release --quiet --bin crashctl --example make_spool
BIN=$PWD/target/release/crashctl
MAKE=$PWD/target/release/examples/make_spool

if [ -n "${CRASHCTL_TEST_MOTO_SERVER:-}" ]; then
    MOTO=("$CRASHCTL_TEST_MOTO_SERVER")
elif command -v moto_server >/dev/null; then
    MOTO=(moto_server)
else
    MOTO=(python3 -m moto.server)
fi

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
MOTO_PID=
stop_moto() {
    if [ -n "$MOTO_PID" ]; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
        MOTO_PID=
    fi
}
trap stop_moto EXIT

# start_moto: a fresh server on a free port; sets AWS_ENDPOINT_URL
start_moto() {
    local port deadline
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${MOTO[@]}" -H 127.0.0.1 -p "$port" >"$BENCH_DIR/moto.log" 2>&1 &
    MOTO_PID=$!
    deadline=$((SECONDS + 60))
    until curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/"; do
        ((SECONDS < deadline)) || { echo "moto did not start" >&2; exit 2; }
        sleep 0.2
    done
    export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
    export AWS_REGION=us-east-1
}

now() { date +%s.%N; }

declare -A RATE
for j in "${JOBS[@]}"; do
    dir="$BENCH_DIR/j$j"
    echo "== spool of $N crashes, -j $j" >&2
    "$MAKE" "$dir/spool" "$N" "$DUMP_BYTES" 100
    sync -f "$dir/spool"
    start_moto
    t0=$(now)
    "$BIN" move --quiet -j "$j" --spool "$dir/spool" --store s3://bench/prod --queue sqs://bench \
        --create-bucket --create-queues --format json >"$dir/summary.json"
    t1=$(now)
    stop_moto
    moved=$(grep -o '"moved": [0-9]*' "$dir/summary.json" | grep -o '[0-9]*$')
    [ "$moved" = "$N" ] || { echo "moved $moved of $N" >&2; exit 1; }
    t=$(echo "$t1 - $t0" | bc -l)
    RATE[$j]=$(echo "$N / $t" | bc -l)
    printf 'move into S3+SQS -j %-2d %6d crashes: %8.2f s  %7.1f crashes/s\n' "$j" "$N" "$t" "${RATE[$j]}"
    rm -rf "$dir"
done

first=${JOBS[0]}
last=${JOBS[${#JOBS[@]}-1]}
printf 'speed-up -j %d vs -j %d: %.2fx\n' "$last" "$first" "$(echo "${RATE[$last]} / ${RATE[$first]}" | bc -l)"

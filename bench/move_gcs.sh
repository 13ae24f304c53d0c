#!/usr/bin/env bash
# Benchmark of `crashctl move` into GCS + Pub/Sub (the GCS emulator and Google's Pub/Sub fake,
# .ci/gcp.sh) beside the same move into S3 + SQS (moto), each at -j 1 and at the default -j
# (the number of cores).
#
# For each backend and -j: builds a spool of N small crashes (examples/make_spool.rs: 2 KiB
# dumps, 10% DEFER, 100 crashes per minute shard), starts fresh servers of its own on 127.0.0.1
# (so no run sees another's objects), moves the spool with --create-bucket --create-queues
# (release build), checks that every crash was moved, and prints crashes/s. Each crash is 3
# uploads (dump, dump names, raw crash); accepted crashes are published (Pub/Sub: one Publish
# request per mover batch; SQS: 10 to a SendMessageBatch).
#
# Usage: bench/move_gcs.sh [N]   (default 2000; DUMP_BYTES=N for the dump size, BENCH_DIR=...;
# the servers come from .ci/gcp.sh (CRASHCTL_TEST_GCS_SERVER, CRASHCTL_TEST_PUBSUB_SERVER) and
# moto_server / CRASHCTL_TEST_MOTO_SERVER, installed by .ci/gcp.sh and .ci/moto.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-2000}
BENCH_DIR=${BENCH_DIR:-bench/out/move_gcs}
DUMP_BYTES=${DUMP_BYTES:-2048}
CORES=$(nproc)

echo "== building (release)" >&2
cargo build --release --quiet --bin crashctl --example make_spool
BIN=$PWD/target/release/crashctl
MAKE=$PWD/target/release/examples/make_spool

# the emulators' executables (installed and built by .ci/gcp.sh, which starts nothing here)
eval "$(.ci/gcp.sh install)"
GCS_EXE=$CRASHCTL_TEST_GCS_SERVER
PUBSUB_EXE=$CRASHCTL_TEST_PUBSUB_SERVER
unset STORAGE_EMULATOR_HOST PUBSUB_EMULATOR_HOST
if [ -n "${CRASHCTL_TEST_MOTO_SERVER:-}" ]; then
    MOTO=("$CRASHCTL_TEST_MOTO_SERVER")
elif command -v moto_server >/dev/null; then
    MOTO=(moto_server)
else
    MOTO=(python3 -m moto.server)
fi

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
PIDS=()
stop_servers() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
trap stop_servers EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_http() {
    local deadline=$((SECONDS + 60))
    until curl -s -o /dev/null "$1"; do
        ((SECONDS < deadline)) || { echo "$1 did not answer" >&2; exit 2; }
        sleep 0.2
    done
}

# start_gcp: a fresh GCS emulator and Pub/Sub fake; sets the *_EMULATOR_HOST variables
start_gcp() {
    local port
    port=$(free_port)
    "$GCS_EXE" start --host 127.0.0.1 --port "$port" --in-memory >"$BENCH_DIR/gcs.log" 2>&1 &
    PIDS+=($!)
    "$PUBSUB_EXE" >"$BENCH_DIR/pubsub.out" 2>"$BENCH_DIR/pubsub.log" &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$port/storage/v1/b?project=test"
    local deadline=$((SECONDS + 60))
    until [ -s "$BENCH_DIR/pubsub.out" ]; do
        ((SECONDS < deadline)) || { echo "the Pub/Sub fake did not start" >&2; exit 2; }
        sleep 0.1
    done
    export STORAGE_EMULATOR_HOST=http://127.0.0.1:$port PUBSUB_EMULATOR_HOST
    PUBSUB_EMULATOR_HOST=$(head -1 "$BENCH_DIR/pubsub.out")
}

# start_moto: a fresh moto; sets the AWS variables
start_moto() {
    local port
    port=$(free_port)
    "${MOTO[@]}" -H 127.0.0.1 -p "$port" >"$BENCH_DIR/moto.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$port/moto-api/"
    export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
    export AWS_REGION=us-east-1
}

now() { date +%s.%N; }

# bench BACKEND J: one timed move; prints and records crashes/s
declare -A RATE
bench() {
    local backend=$1 j=$2 dir="$BENCH_DIR/$1-j$2" store queue t0 t1 moved t
    echo "== spool of $N crashes, $backend -j $j" >&2
    "$MAKE" "$dir/spool" "$N" "$DUMP_BYTES" 100
    sync -f "$dir/spool"
    case $backend in
        gcs) start_gcp; store=gs://bench/prod; queue=pubsub://bench ;;
        s3) start_moto; store=s3://bench/prod; queue=sqs://bench ;;
    esac
    t0=$(now)
    "$BIN" move --quiet -j "$j" --spool "$dir/spool" --store "$store" --queue "$queue" \
        --create-bucket --create-queues --format json >"$dir/summary.json"
    t1=$(now)
    stop_servers
    moved=$(grep -o '"moved": [0-9]*' "$dir/summary.json" | grep -o '[0-9]*$')
    [ "$moved" = "$N" ] || { echo "moved $moved of $N" >&2; exit 1; }
    t=$(echo "$t1 - $t0" | bc -l)
    RATE[$backend-$j]=$(echo "$N / $t" | bc -l)
    printf 'move into %-13s -j %-2d %6d crashes: %8.2f s  %7.1f crashes/s\n' \
        "$([ "$backend" = gcs ] && echo GCS+Pub/Sub || echo S3+SQS)" "$j" "$N" "$t" "${RATE[$backend-$j]}"
    rm -rf "$dir"
}

for backend in gcs s3; do
    for j in 1 "$CORES"; do
        bench "$backend" "$j"
    done
done
for backend in gcs s3; do
    printf '%s: -j %d vs -j 1: %.2fx\n' "$backend" "$CORES" "$(echo "${RATE[$backend-$CORES]} / ${RATE[$backend-1]}" | bc -l)"
done
printf 'GCS+Pub/Sub vs S3+SQS at -j 1: %.2fx\n' "$(echo "${RATE[gcs-1]} / ${RATE[s3-1]}" | bc -l)"

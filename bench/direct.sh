#!/usr/bin/env bash
# Benchmark: `crashctl collect` in direct mode (--store + --queue, as Mozilla's modern collector
# does) side by side with its peer, the spool mode: the same N crashes with 400 KB dumps sent
# by `crashctl submit -j J` on loopback, into (1) the spool, (2) a directory store + queue,
# (3) S3 + SQS on a moto server when CRASHCTL_TEST_S3_ENDPOINT is set (`eval "$(.ci/moto.sh start)"`).
# Also `crashctl submit --generate N` (generated crashes, valid minidumps) into the spool.
#
# Usage: bench/direct.sh             (N=1000, J=16)
#        N=300 J=8 bench/direct.sh
# Needs: a release build (built here).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000}
J=${J:-16}
OUT=bench/out/direct
echo "== building crashctl (release)" >&2
cargo build --release --quiet
CRASHCTL=$PWD/target/release/crashctl
rm -rf "$OUT" && mkdir -p "$OUT"
head -c 400000 /dev/urandom > "$OUT/dump.bin"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

COLLECTOR=
stop_collector() { [[ -n "$COLLECTOR" ]] && kill -TERM "$COLLECTOR" 2>/dev/null && wait "$COLLECTOR" || true; COLLECTOR=; }
trap stop_collector EXIT

# Starts a collector with the given sink options; sets URL.
start_collector() { # $1 = name, rest = options
    local name=$1
    shift
    "$CRASHCTL" collect --listen 127.0.0.1:0 "$@" 2> "$OUT/$name.log" &
    COLLECTOR=$!
    for _ in $(seq 600); do grep -qs '^listening on ' "$OUT/$name.log" && break; sleep 0.05; done
    URL=$(sed -n 's/^listening on //p' "$OUT/$name.log" | head -1)
    [[ -n "$URL" ]] || { echo "bench: the collector did not start" >&2; cat "$OUT/$name.log" >&2; exit 1; }
}

# Sends N crashes; prints "accepted rate p99".
run_submit() { # $1 = name, rest = what to send
    local name=$1
    shift
    "$CRASHCTL" submit "$URL" "$@" -j "$J" --format json > "$OUT/$name.jsonl" 2> "$OUT/$name.txt"
    local accepted rate p99
    accepted=$(grep -c '"status":"accepted"' "$OUT/$name.jsonl" || true)
    rate=$(sed -n 's/.*(\([0-9.]*\)\/s).*/\1/p' "$OUT/$name.txt")
    p99=$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' "$OUT/$name.txt")
    echo "$accepted $rate $p99"
}

FILES=(--dump "$OUT/dump.bin" ProductName=Bench Version=1.0 --repeat "$N")
row() { printf '%-44s %10s %12s %10s\n' "$@"; }

echo "== spool: $N crashes" >&2
start_collector spool --spool "$OUT/spool"
read -r SP_OK SP_RATE SP_P99 < <(run_submit spool "${FILES[@]}")
echo "== submit --generate $N into the spool" >&2
read -r GEN_OK GEN_RATE GEN_P99 < <(run_submit generate --generate "$N" --seed 1)
stop_collector

echo "== directory store + queue: $N crashes" >&2
start_collector dir --store "$OUT/store" --queue "$OUT/queue"
read -r DIR_OK DIR_RATE DIR_P99 < <(run_submit dir "${FILES[@]}")
stop_collector
QUEUED=$(find "$OUT/queue/standard/pending" -type f | wc -l)
STORED=$(find "$OUT/store/v1/raw_crash" -type f | wc -l)

S3_LINE="(skipped: CRASHCTL_TEST_S3_ENDPOINT not set)"
if [[ -n "${CRASHCTL_TEST_S3_ENDPOINT:-}" ]]; then
    echo "== S3 + SQS (moto at $CRASHCTL_TEST_S3_ENDPOINT): $N crashes" >&2
    export AWS_ENDPOINT_URL=$CRASHCTL_TEST_S3_ENDPOINT
    export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
    export AWS_REGION=${AWS_REGION:-us-east-1}
    tag=bench-direct-$(date +%s)
    start_collector s3 --store "s3://$tag" --create-bucket --queue "sqs://$tag" --create-queues
    read -r S3_OK S3_RATE S3_P99 < <(run_submit s3 "${FILES[@]}")
    stop_collector
    S3_LINE=$(row "direct: S3 + SQS (moto)" "$S3_OK/$N" "$S3_RATE" "$S3_P99")
fi

echo
echo "machine: $(nproc) cores; dumps: 400 KB random; crashctl submit -j $J; disk $(df -P "$OUT" | awk 'NR==2 { print $1 }')"
row "collector sink" "crashes" "per second" "p99 ms"
row "spool (peer: fsync per file)" "$SP_OK/$N" "$SP_RATE" "$SP_P99"
row "direct: directory store + queue (syncfs)" "$DIR_OK/$N" "$DIR_RATE" "$DIR_P99"
echo "$S3_LINE"
row "spool, submit --generate" "$GEN_OK/$N" "$GEN_RATE" "$GEN_P99"
echo "stored: $STORED, queued: $QUEUED (expected $N each)"
echo "direct (directory) / spool: $(ratio "$DIR_RATE" "$SP_RATE")"
rm -rf "$OUT/spool" "$OUT/store" "$OUT/queue"

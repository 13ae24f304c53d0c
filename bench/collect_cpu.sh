#!/usr/bin/env bash
# Benchmark: the collector's own CPU time (user and system, from /proc/PID/stat) for N crashes
# of 400 KB sent by `crashctl submit -j 16`, for one or more crashctl binaries, alternating them
# ROUNDS times so that each sees the same file-system state on average. Nothing is deleted
# until the end (see bench/collect.sh on ext4 and recently deleted inodes).
#
# Usage: bench/collect_cpu.sh [BINARY...]     (default: this checkout's release build)
#        N=3000 ROUNDS=3 bench/collect_cpu.sh /tmp/crashctl-old target/release/crashctl
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-3000}
ROUNDS=${ROUNDS:-3}
OUT=bench/out/collect_cpu
if (($# == 0)); then
    cargo build --release --quiet
    set -- "$PWD/target/release/crashctl"
fi
SUBMIT=$1 # the client is the same binary every time, so only the collector changes
TICKS=$(getconf CLK_TCK)

rm -rf "$OUT" && mkdir -p "$OUT"
head -c 400000 /dev/urandom > "$OUT/dump.bin"
printf '%-50s %8s %8s %8s %12s\n' "collector binary" "user s" "sys s" "ms/crash" "crashes/s"
for ((round = 1; round <= ROUNDS; round++)); do
    k=0
    for bin in "$@"; do
        k=$((k + 1))
        "$bin" collect --listen 127.0.0.1:0 --spool "$OUT/spool-$round-$k" 2> "$OUT/collect.log" &
        pid=$!
        for _ in $(seq 200); do grep -q '^listening on ' "$OUT/collect.log" && break; sleep 0.05; done
        url=$(sed -n 's/^listening on //p' "$OUT/collect.log" | head -1)
        [[ -n $url ]] || { echo "bench: $bin did not start" >&2; cat "$OUT/collect.log" >&2; exit 1; }
        "$SUBMIT" submit "$url" --dump "$OUT/dump.bin" ProductName=Bench Version=1.0 --repeat "$N" -j 16 \
            --format json > /dev/null 2> "$OUT/submit.txt"
        read -r utime stime < <(awk '{ print $14, $15 }' "/proc/$pid/stat")
        kill -TERM "$pid" && wait "$pid" || true
        rate=$(sed -n 's/.*(\([0-9.]*\)\/s).*/\1/p' "$OUT/submit.txt")
        awk -v b="$bin" -v u="$utime" -v s="$stime" -v t="$TICKS" -v n="$N" -v r="$rate" \
            'BEGIN { printf "%-50s %8.2f %8.2f %8.3f %12s\n", b, u / t, s / t, (u + s) / t * 1000 / n, r }'
    done
done
rm -rf "$OUT"

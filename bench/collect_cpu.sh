#!/usr/bin/env bash
# Benchmark: the collector's own CPU time per crash (user and system, from /proc/PID/stat of
# the collector process), crashes/s and p99 latency, for N crashes of 400 KB sent by
# `crashctl submit --repeat N -j J` at J = 1, 8 and 64, for one or more crashctl binaries,
# alternating them ROUNDS times so that each sees the same file-system state on average; then
# the fsyncs per crash (fsync, fdatasync and syncfs calls of the collector, counted by
# `strace -f -c` in a separate, smaller run, since tracing slows the collector down).
# Nothing is deleted until the end (see bench/collect.sh on ext4 and recently deleted inodes).
#
# Usage: bench/collect_cpu.sh [BINARY...]     (default: this checkout's release build)
#        N=1000 ROUNDS=2 JS="1 8 64" NSTRACE=200 bench/collect_cpu.sh /tmp/crashctl-old target/release/crashctl
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000}
ROUNDS=${ROUNDS:-2}
JS=${JS:-1 8 64}
NSTRACE=${NSTRACE:-200}
OUT=bench/out/collect_cpu
if (($# == 0)); then
    cargo build --release --quiet
    set -- "$PWD/target/release/crashctl"
fi
SUBMIT=$1 # the client is the same binary every time, so only the collector changes
TICKS=$(getconf CLK_TCK)

rm -rf "$OUT" && mkdir -p "$OUT"
head -c 400000 /dev/urandom > "$OUT/dump.bin"

# start_collector BIN SPOOL [WRAPPER...]: sets PID (the collector's) and URL
start_collector() {
    local bin=$1 spool=$2; shift 2
    rm -f "$OUT/collect.log"
    "$@" "$bin" collect --listen 127.0.0.1:0 --spool "$spool" 2> "$OUT/collect.log" &
    PID=$!
    for _ in $(seq 400); do grep -q '^listening on ' "$OUT/collect.log" 2>/dev/null && break; sleep 0.05; done
    URL=$(sed -n 's/^listening on //p' "$OUT/collect.log" | head -1)
    [[ -n $URL ]] || { echo "bench: $bin did not start" >&2; cat "$OUT/collect.log" >&2; exit 1; }
}
submit() { # URL J COUNT
    "$SUBMIT" submit "$1" --dump "$OUT/dump.bin" ProductName=Bench Version=1.0 --repeat "$3" -j "$2" \
        --format json > "$OUT/submit.jsonl" 2> "$OUT/submit.txt"
}

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %4s %9s %9s %9s %10s %8s %6s\n' "collector binary" "-j" "user ms" "sys ms" "CPU ms" "crashes/s" "p99 ms" "load"
for ((round = 1; round <= ROUNDS; round++)); do
    for j in $JS; do
        k=0
        for bin in "$@"; do
            k=$((k + 1))
            start_collector "$bin" "$OUT/spool-$round-$j-$k"
            submit "$URL" "$j" "$N"
            read -r utime stime < <(awk '{ print $14, $15 }' "/proc/$PID/stat")
            kill -TERM "$PID" && wait "$PID" || true
            ok=$(grep -c '"status":"accepted"' "$OUT/submit.jsonl" || true)
            [[ $ok == "$N" ]] || echo "bench: only $ok of $N accepted" >&2
            rate=$(sed -n 's/.*(\([0-9.]*\)\/s).*/\1/p' "$OUT/submit.txt")
            p99=$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' "$OUT/submit.txt")
            awk -v b="$bin" -v j="$j" -v u="$utime" -v s="$stime" -v t="$TICKS" -v n="$N" -v r="$rate" -v p="$p99" \
                -v l="$(cut -d' ' -f1 /proc/loadavg)" \
                'BEGIN { printf "%-40s %4s %9.3f %9.3f %9.3f %10s %8s %6s\n", substr(b, length(b) - 39), j,
                         u / t * 1000 / n, s / t * 1000 / n, (u + s) / t * 1000 / n, r, p, l }'
        done
    done
done

if command -v strace >/dev/null; then
    echo "fsync-type calls per crash (strace -f -c, $NSTRACE crashes):"
    for j in $JS; do
        k=0
        for bin in "$@"; do
            k=$((k + 1))
            start_collector "$bin" "$OUT/spool-strace-$j-$k" strace -f -c -o "$OUT/strace.txt" \
                -e trace=fsync,fdatasync,syncfs,sync
            submit "$URL" "$j" "$NSTRACE"
            # stop the traced collector itself (strace then exits and writes its summary)
            child=$(cat "/proc/$PID/task/$PID/children" 2>/dev/null || true)
            kill -TERM ${child:-$PID} 2>/dev/null || true
            wait "$PID" || true
            calls=$(awk '$NF ~ /^(fsync|fdatasync|syncfs|sync)$/ { n += $4 } END { print n + 0 }' "$OUT/strace.txt")
            awk -v b="$bin" -v j="$j" -v c="$calls" -v n="$NSTRACE" \
                'BEGIN { printf "  %-40s -j %-3s %6.2f per crash (%d calls)\n", substr(b, length(b) - 39), j, c / n, c }'
        done
    done
else
    echo "(strace not installed: fsyncs per crash not counted)"
fi
rm -rf "$OUT"

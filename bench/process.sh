#!/usr/bin/env bash
# Benchmark: `crashctl process` (in-process stackwalk, one shared symbol cache, rules,
# signature, store writes) vs `minidump-stackwalk --json` run once per dump as Socorro runs it
# (a child process per dump, the raw crash as --evil-json, the same symbols path).
#
# Usage: bench/process.sh            (N=500 crashes by default; N=100 bench/process.sh for less)
# Needs: ../shared/testdata (dumps + symbols), a release build (built here), and
# minidump-stackwalk ($MINIDUMP_STACKWALK, .tools/bin/, or PATH; see docs/process.md).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-500}
DATA=${TESTDATA:-../shared/testdata}
SYMBOLS="$DATA/symbols"
OUT=bench/out/process
MDSW=${MINIDUMP_STACKWALK:-}
if [[ -z "$MDSW" ]]; then
    if [[ -x .tools/bin/minidump-stackwalk ]]; then MDSW=.tools/bin/minidump-stackwalk
    else MDSW=$(command -v minidump-stackwalk || true); fi
fi
[[ -d "$DATA/minidumps" ]] || { echo "bench: $DATA/minidumps is absent" >&2; exit 2; }
[[ -n "$MDSW" && -x "$MDSW" ]] || { echo "bench: minidump-stackwalk not found (set MINIDUMP_STACKWALK)" >&2; exit 2; }

echo "== building crashctl (release)" >&2
cargo build --release --quiet
CRASHCTL=target/release/crashctl

# The store: the testdata dumps repeated to N crashes (v1 layout, written as the store writes it).
rm -rf "$OUT" && mkdir -p "$OUT/store/v1"/{raw_crash,dump_names,dump} "$OUT/mdsw"
mapfile -t DUMPS < <(ls "$DATA"/minidumps/*.dmp)
day=$(date -u +%y%m%d)
: > "$OUT/ids"
for ((i = 0; i < N; i++)); do
    id=$(printf '%08x-0000-4000-8000-%06x%s' "$i" "$i" "$day")
    dump=${DUMPS[$((i % ${#DUMPS[@]}))]}
    mkdir -p "$OUT/store/v1/raw_crash/20$day"
    printf '{"ProductName":"Firefox","Version":"140.0","uuid":"%s","submitted_timestamp":"%s"}' \
        "$id" "$(date -u +%Y-%m-%dT%H:%M:%S+00:00)" > "$OUT/store/v1/raw_crash/20$day/$id"
    echo '["upload_file_minidump"]' > "$OUT/store/v1/dump_names/$id"
    cp "$dump" "$OUT/store/v1/dump/$id"
    echo "$id" >> "$OUT/ids"
done
sync

# Runs a command under /usr/bin/time (when present); sets WALL, CPU (user+sys seconds), KIB.
measure() {
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -f "%e %U %S %M" -o "$OUT/time.txt" "$@" >/dev/null 2>&1 || true
        read -r WALL user sys KIB < "$OUT/time.txt"
        CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
    else
        local t0 t1 hwm=0 v
        t0=$(date +%s.%N)
        "$@" >/dev/null 2>&1 & local pid=$!
        while kill -0 "$pid" 2>/dev/null; do
            v=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
            [[ -n "$v" ]] && hwm=$v
            sleep 0.05
        done
        wait "$pid" || true
        t1=$(date +%s.%N)
        WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') CPU=n/a KIB=$hwm
    fi
}
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / s }'; }

# As Socorro runs it: one process per dump, the raw crash as --evil-json, output captured.
mdsw_loop() {
    while read -r id; do
        "$MDSW" --json --verbose=error --evil-json "$OUT/store/v1/raw_crash/20$day/$id" \
            --symbols-path "$SYMBOLS" "$OUT/store/v1/dump/$id" > "$OUT/mdsw/$id.json" 2>/dev/null || true
    done < "$OUT/ids"
}
export -f mdsw_loop
export MDSW OUT SYMBOLS day

echo "== minidump-stackwalk --json, one process per dump ($N dumps)" >&2
measure bash -c mdsw_loop
mdsw_wall=$WALL mdsw_cpu=$CPU

echo "== crashctl process ($N crashes, -j $(nproc))" >&2
measure "$CRASHCTL" process --quiet --store "$OUT/store" --symbols-path "$SYMBOLS" -- $(cat "$OUT/ids")
ours_wall=$WALL ours_cpu=$CPU ours_kib=$KIB
saved=$(ls "$OUT/store/v1/processed_crash" | wc -l)

ours=$(rate "$N" "$ours_wall")
theirs=$(rate "$N" "$mdsw_wall")
echo "machine:                  $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "crashes:                  $N ($saved processed crashes saved)"
echo "minidump-stackwalk:       $theirs crashes/s (${mdsw_wall}s wall, ${mdsw_cpu}s CPU)"
echo "crashctl process:         $ours crashes/s (${ours_wall}s wall, ${ours_cpu}s CPU)"
echo "ratio (wall):             $(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.1fx", a / b }') (target >= 10x)"
[[ "$ours_cpu" != n/a ]] && echo "ratio (CPU time):         $(awk -v a="$mdsw_cpu" -v b="$ours_cpu" 'BEGIN { printf "%.1fx", a / b }')"
echo "crashctl peak memory:     $((ours_kib / 1024)) MiB"

# BREAKDOWN=1: CPU time per crash for each testdata dump alone (-j 1, 40 copies each).
if [[ "${BREAKDOWN:-0}" == 1 && -x /usr/bin/time ]]; then
    echo "per dump (CPU ms per crash, -j 1):"
    for ((k = 0; k < ${#DUMPS[@]}; k++)); do
        awk -v k="$k" -v n="${#DUMPS[@]}" '(NR - 1) % n == k' "$OUT/ids" | head -40 > "$OUT/ids.one"
        count=$(wc -l < "$OUT/ids.one")
        rm -rf "$OUT/store/v1/processed_crash"
        measure "$CRASHCTL" process --quiet -j 1 --store "$OUT/store" --symbols-path "$SYMBOLS" -- $(cat "$OUT/ids.one")
        ours_cpu=$CPU
        cp "$OUT/ids" "$OUT/ids.all" && cp "$OUT/ids.one" "$OUT/ids"
        measure bash -c mdsw_loop
        mv "$OUT/ids.all" "$OUT/ids"
        awk -v f="$(basename "${DUMPS[$k]}")" -v n="$count" -v a="$ours_cpu" -v b="$CPU" \
            'BEGIN { printf "  %-34s crashctl %6.2f  minidump-stackwalk %6.2f  ratio %s\n", f, a * 1000 / n, b * 1000 / n, (a > 0 ? sprintf("%.1fx", b / a) : "n/a") }'
    done
fi

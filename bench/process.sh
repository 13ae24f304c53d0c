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

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / s }'; }

# Peak memory of a command: /usr/bin/time -v when present, else VmHWM polled from /proc.
peak_kib() {
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -v "$@" 2> "$OUT/time.txt" >/dev/null
        awk -F': ' '/Maximum resident set size/ { print $2 }' "$OUT/time.txt"
    else
        "$@" >/dev/null 2>&1 & local pid=$! hwm=0
        while kill -0 "$pid" 2>/dev/null; do
            v=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
            [[ -n "$v" ]] && hwm=$v
            sleep 0.05
        done
        wait "$pid" || true
        echo "$hwm"
    fi
}

echo "== minidump-stackwalk --json, one process per dump ($N dumps)" >&2
t0=$(now)
while read -r id; do
    "$MDSW" --json --verbose=error --evil-json "$OUT/store/v1/raw_crash/20$day/$id" \
        --symbols-path "$SYMBOLS" "$OUT/store/v1/dump/$id" > "$OUT/mdsw/$id.json" 2>/dev/null || true
done < "$OUT/ids"
t1=$(now)
mdsw_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

echo "== crashctl process ($N crashes, -j $(nproc))" >&2
t0=$(now)
kib=$(peak_kib "$CRASHCTL" process --quiet --store "$OUT/store" --symbols-path "$SYMBOLS" -- $(cat "$OUT/ids"))
t1=$(now)
ours_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
saved=$(ls "$OUT/store/v1/processed_crash" | wc -l)

ours=$(rate "$N" "$ours_secs")
theirs=$(rate "$N" "$mdsw_secs")
echo "crashes:                  $N ($saved processed crashes saved)"
echo "minidump-stackwalk:       $theirs crashes/s (${mdsw_secs}s)"
echo "crashctl process:         $ours crashes/s (${ours_secs}s)"
echo "ratio:                    $(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.1fx", a / b }') (target >= 10x)"
echo "crashctl peak memory:     $((kib / 1024)) MiB"

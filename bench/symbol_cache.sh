#!/usr/bin/env bash
# Benchmark: the cost of the symbol cache bound at its worst. `crashctl process` over N
# testdata crashes (-j 2, --no-save) with the default `--symbol-cache-modules` (2000, never
# reached by the testdata) and with 1 (a fresh cache after nearly every crash), three rounds.
#
# Usage: bench/symbol_cache.sh          (N=500)
# Needs: ../shared/testdata (dumps + symbols), /usr/bin/time, a release build (built here).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-500}
DATA=${TESTDATA:-../shared/testdata}
OUT=bench/out/symbol_cache
[[ -d "$DATA/minidumps" ]] || { echo "bench: $DATA/minidumps is absent" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time is not installed" >&2; exit 2; }
cargo build --release --quiet
CRASHCTL=target/release/crashctl

# The store: the testdata dumps repeated to N crashes (v1 layout).
rm -rf "$OUT" && mkdir -p "$OUT/store/v1"/{raw_crash,dump_names,dump}
mapfile -t DUMPS < <(ls "$DATA"/minidumps/*.dmp)
day=$(date -u +%y%m%d)
mkdir -p "$OUT/store/v1/raw_crash/20$day"
: > "$OUT/ids"
for ((i = 0; i < N; i++)); do
    id=$(printf '%08x-0000-4000-8000-%06x%s' "$i" "$i" "$day")
    printf '{"ProductName":"Firefox","Version":"140.0","uuid":"%s"}' "$id" > "$OUT/store/v1/raw_crash/20$day/$id"
    echo '["upload_file_minidump"]' > "$OUT/store/v1/dump_names/$id"
    cp "${DUMPS[$((i % ${#DUMPS[@]}))]}" "$OUT/store/v1/dump/$id"
    echo "$id" >> "$OUT/ids"
done
sync

for round in 1 2 3; do
    for modules in 2000 1; do
        /usr/bin/time -f "--symbol-cache-modules $modules: %e s wall, %U s user, %S s sys, %M KiB peak" \
            "$CRASHCTL" process --store "$OUT/store" --symbols-path "$DATA/symbols" -j 2 --no-save \
            --symbol-cache-modules "$modules" < "$OUT/ids" 2>&1 >/dev/null | grep -E "^--symbol|^processed"
    done
done
rm -rf "$OUT"

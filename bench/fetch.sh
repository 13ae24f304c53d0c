#!/usr/bin/env bash
# crashctl fetch -j 10 vs crashstats-tools fetch-data --workers 10 (pinned 2.1.0), fetching N
# crashes (raw crash + dumps + processed crash) from the test suite's Crash Stats stand-in
# (examples/crashstats_standin.rs, 50 ms of latency per request; the real webapp cannot run
# here). Prints each tool's wall time, that every file arrived, and the ratio.
# Usage: bench/fetch.sh [N] [LATENCY_MS]   (defaults 300 crashes, 50 ms)
# Needs python3; installs crashstats-tools==2.1.0 into target/bench-venv-cst210 on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}
LATENCY=${2:-50}
TOKEN=benchtoken0123456789abcdef
cargo build --release --quiet --bin crashctl --example crashstats_standin
BIN=target/release/crashctl
STANDIN=target/release/examples/crashstats_standin
VENV=target/bench-venv-cst210
[ -x "$VENV/bin/fetch-data" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "crashstats-tools==2.1.0"; }
WORK=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT

"$STANDIN" "$N" "$LATENCY" "$TOKEN" "$WORK/ids.txt" > "$WORK/url" & SERVER=$!
for _ in $(seq 100); do [ -s "$WORK/url" ] && break; sleep 0.1; done
HOST=$(cat "$WORK/url")
export CRASHSTATS_API_TOKEN=$TOKEN

run() { # name outdir cmd...
    local start end rc=0
    start=$(date +%s.%N)
    "${@:3}" < "$WORK/ids.txt" > "$WORK/$1.log" 2>&1 || rc=$?
    end=$(date +%s.%N)
    local files; files=$(find "$2" -type f | wc -l)
    printf '%-22s %7.2fs  exit %-3s  files %5s (want %s)\n' "$1" "$(echo "$end - $start" | bc)" "$rc" "$files" "$((N * 5))"
    echo "$end - $start" | bc > "$WORK/$1.time"
}

# crashstats-tools' workers race to create the same directory (os.path.exists, then os.makedirs:
# FileExistsError ends the run on a fresh folder), so both tools get the folders made beforehand
for out in "$WORK/cc" "$WORK/cst"; do
    mkdir -p "$out"/{dump_names,processed_crash,upload_file_minidump,upload_file_minidump_content}
    sed -E 's/.*(.{6})$/20\1/' "$WORK/ids.txt" | sort -u | while read -r day; do mkdir -p "$out/raw_crash/$day"; done
done

echo "== $N crashes (raw + 2 dumps + processed: $((N * 4)) requests), ${LATENCY} ms latency per request, $(nproc) cores"
run crashctl "$WORK/cc" "$BIN" --quiet fetch --host "$HOST" --store "$WORK/cc" --layout fetch-data --dumps --processed -j 10
run crashstats-tools "$WORK/cst" "$VENV/bin/fetch-data" --host "$HOST" --workers 10 --raw --dumps --processed --no-color "$WORK/cst"
# both wrote the same files, byte for byte
if diff -r "$WORK/cc" "$WORK/cst" > "$WORK/diff" 2>&1; then echo "outputs: identical (diff -r)"; else echo "outputs differ:"; head -5 "$WORK/diff"; fi
echo "ratio (crashstats-tools / crashctl): $(echo "scale=2; $(cat "$WORK/crashstats-tools.time") / $(cat "$WORK/crashctl.time")" | bc)x"

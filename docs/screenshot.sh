#!/usr/bin/env bash
# Takes docs/stats-serve.png: `crashctl stats --serve` on a spool that fills and drains while
# it watches, photographed by headless Chromium (Debian: apt-get install -y chromium).
# Usage: docs/screenshot.sh [path/to/crashctl]   (default: target/release or target/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-$( [ -x target/release/crashctl ] && echo target/release/crashctl || echo target/debug/crashctl )}
BIN=$(realpath "$BIN")
OUT=$(realpath docs)/stats-serve.png
CHROMIUM=$(command -v chromium || command -v chromium-browser)
WORK=$(mktemp -d)
PORT=${PORT:-9187}
cleanup() { [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"
"$BIN" --quiet generate -n 40 --seed 7 --store outbox >/dev/null
mkdir -p store queue
"$BIN" --quiet submit spool --from-store outbox >/dev/null
"$BIN" stats --serve 127.0.0.1:$PORT --watch 1 --hot-spot 20 --spool spool --queue queue --store store 2>server.log &
SERVER=$!
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:$PORT/metrics && break; sleep 0.2; done
# arrivals and drains for the charts: crashes come in, the mover takes them to the store + queue
for round in $(seq 12); do
    "$BIN" --quiet submit spool --from-store outbox >/dev/null
    if [ $((round % 4)) -eq 2 ]; then "$BIN" --quiet move --spool spool --store store --queue queue >/dev/null; fi
    sleep 1
done
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d)" --hide-scrollbars --window-size=1280,1000 \
    --screenshot="$OUT" "http://127.0.0.1:$PORT/" 2>/dev/null
echo "wrote $OUT"

#!/usr/bin/env bash
# crashctl reprocess vs crashstats-tools reprocess, against the same local fake Crash Stats API.
#   1. clean server: wall time for N IDs (groups of 50, no sleep), ratio;
#   2. faulty server (every Kth request answered 503): how many IDs
#      each tool got accepted, and its exit code.
# Usage: bench/reprocess.sh [N] [K]   (defaults 20000 IDs, every 10th request fails)
# Needs python3; installs crashstats-tools 2.1.0 (pinned) into target/bench-venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
K=${2:-10}
BIN=${CRASHCTL_BIN:-target/release/crashctl}
[ -x "$BIN" ] || cargo build --release --quiet
VENV=target/bench-venv
# pinned to the version docs/performance.md cites; a venv holding another version is upgraded
CST_VERSION=2.1.0
[ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
[ "$("$VENV/bin/pip" show crashstats-tools 2>/dev/null | sed -n 's/^Version: //p')" = "$CST_VERSION" ] ||
    "$VENV/bin/pip" install -q "crashstats-tools==$CST_VERSION"
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

cat > "$WORK/server.py" <<'PY'
import http.server, json, sys, urllib.parse, threading
FAIL_EVERY = int(sys.argv[2])
lock = threading.Lock()
state = {"requests": 0, "accepted": 0, "fault": False}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, code, body):
        b = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):  # /stats (and reset), /fault/on, /fault/off
        with lock:
            if self.path.startswith("/fault/"):
                state["fault"] = self.path.endswith("/on")
            out = dict(state)
            state.update(requests=0, accepted=0)
        self.reply(200, out)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        if self.headers.get("Auth-Token") != "benchtoken0123456789":
            return self.reply(403, {"error": "Invalid token"})
        with lock:
            state["requests"] += 1
            fail = state["fault"] and state["requests"] % FAIL_EVERY == 0
            if not fail:
                state["accepted"] += len(form.get("crash_ids", []))
        if fail:
            return self.reply(503, {"error": "Service Unavailable"})
        self.reply(200, True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 "$WORK/server.py" "$PORT" "$K" & SERVER=$!
HOST="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$HOST/stats" >/dev/null 2>&1 && break; sleep 0.1; done

python3 -c "
import uuid, datetime
d = datetime.date.today().strftime('%y%m%d')
for _ in range($N): print(str(uuid.uuid4())[:-7] + '0' + d)" > "$WORK/ids.txt"
export CRASHSTATS_API_TOKEN=benchtoken0123456789 CRASHCTL_STATE_DIR="$WORK/state"

run() { # name cmd...: prints seconds, exit code, accepted IDs
    local start end rc=0
    start=$(date +%s.%N)
    "${@:2}" < "$WORK/ids.txt" > "$WORK/$1.out" 2>&1 || rc=$?
    end=$(date +%s.%N)
    local accepted; accepted=$(curl -sf "$HOST/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accepted"])')
    printf '%-16s %7.2fs  exit %-3s  accepted %6s of %s\n' "$1" "$(echo "$end - $start" | bc)" "$rc" "$accepted" "$N"
    echo "$end - $start" | bc > "$WORK/$1.time"
}
CC=("$BIN" --quiet reprocess --host "$HOST" --sleep 0s --allow-many --retry-base-delay 100ms)
CST=("$VENV/bin/reprocess" --host "$HOST" --sleep 0 --allow-many --no-color)

echo "== clean server: $N IDs, groups of 50, no sleep (machine: $(nproc) cores)"
run crashctl "${CC[@]}"
run crashstats-tools "${CST[@]}"
echo "ratio (crashstats-tools / crashctl wall time): $(echo "scale=2; $(cat "$WORK/crashstats-tools.time") / $(cat "$WORK/crashctl.time")" | bc)"

echo "== faulty server: every ${K}th request answered 503"
curl -sf "$HOST/fault/on" >/dev/null
run crashctl-faulty "${CC[@]}"
rm -rf "$WORK/state"
run cst-faulty "${CST[@]}"

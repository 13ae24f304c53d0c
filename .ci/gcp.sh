#!/usr/bin/env bash
# Local Google Cloud Storage and Pub/Sub servers for the GCS/Pub/Sub backend tests:
#   GCS:     gcp-storage-emulator (PyPI), JSON and XML APIs, in memory
#   Pub/Sub: Google's in-memory fake (cloud.google.com/go/pubsub/pstest, from Debian's
#            golang-google-cloud-dev), built from .ci/pubsub-fake/main.go
#
#   .ci/gcp.sh start    install what is missing, start both on 127.0.0.1, wait until they
#                       answer, print the environment the tests and crashctl read
#                       (so: eval "$(.ci/gcp.sh start)"; cargo test)
#   .ci/gcp.sh env      print that environment again (for servers already started)
#   .ci/gcp.sh stop     stop the servers started by `start`
#   .ci/gcp.sh install  install what is missing and print where the servers' executables are
#                       (CRASHCTL_TEST_GCS_SERVER, CRASHCTL_TEST_PUBSUB_SERVER), starting nothing
#
# State (pids, addresses, logs, the fake's binary) lives in target/gcp/. Only the servers this
# script started are stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=target/gcp
READY_SECONDS=${GCP_READY_SECONDS:-60}
FAKE=$STATE/pubsub-fake

log() { echo "gcp.sh: $*" >&2; }

# gcp-storage-emulator on PATH, else a wrapper around its Python module (pip may install
# scripts to a directory that is not on PATH).
gcs_exe() {
    if command -v gcp-storage-emulator 2>/dev/null; then
        return
    fi
    mkdir -p "$STATE"
    printf '#!/bin/sh\nexec python3 -m gcp_storage_emulator "$@"\n' >"$STATE/gcp-storage-emulator"
    chmod +x "$STATE/gcp-storage-emulator"
    echo "$PWD/$STATE/gcp-storage-emulator"
}

install() {
    if ! command -v gcp-storage-emulator >/dev/null 2>&1 && ! python3 -c 'import gcp_storage_emulator' 2>/dev/null; then
        log "installing gcp-storage-emulator from PyPI"
        python3 -m pip install --quiet 'gcp-storage-emulator>=2024' >&2
    fi
    if [[ ! -d /usr/share/gocode/src/cloud.google.com/go/pubsub/pstest ]] || ! command -v go >/dev/null 2>&1; then
        log "installing golang-go golang-google-cloud-dev with apt"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-google-cloud-dev >&2
    fi
    if [[ ! -x $FAKE || .ci/pubsub-fake/main.go -nt $FAKE ]]; then
        log "building the Pub/Sub fake"
        mkdir -p "$STATE"
        (cd .ci/pubsub-fake && GO111MODULE=off GOPATH=/usr/share/gocode go build -o "../../$FAKE" .) >&2
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

alive() { [[ -f $STATE/$1.pid ]] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

running() { alive gcs && alive pubsub; }

print_env() {
    cat <<EOF
export STORAGE_EMULATOR_HOST=http://$(cat "$STATE/gcs.addr")
export PUBSUB_EMULATOR_HOST=$(cat "$STATE/pubsub.addr")
export CRASHCTL_TEST_GCP=1
export CRASHCTL_TEST_GCS_SERVER=$(gcs_exe)
export CRASHCTL_TEST_PUBSUB_SERVER=$PWD/$FAKE
EOF
}

# Fails the start with the server's log.
fail() {
    log "$1; its log:"
    cat "$2" >&2
    stop
    exit 2
}

start() {
    if running; then
        log "already running (GCS $(cat "$STATE/gcs.addr"), Pub/Sub $(cat "$STATE/pubsub.addr"))"
        print_env
        return
    fi
    stop # one half may be left from an earlier start
    install
    mkdir -p "$STATE"
    local port deadline
    port=$(free_port)
    # setsid: the servers do not get the terminal's Ctrl-C meant for cargo test.
    setsid "$(gcs_exe)" start --host 127.0.0.1 --port "$port" --in-memory >"$STATE/gcs.log" 2>&1 </dev/null &
    echo $! >"$STATE/gcs.pid"
    echo "127.0.0.1:$port" >"$STATE/gcs.addr"
    setsid "$FAKE" >"$STATE/pubsub.out" 2>"$STATE/pubsub.log" </dev/null &
    echo $! >"$STATE/pubsub.pid"
    deadline=$((SECONDS + READY_SECONDS))
    until curl -sf -o /dev/null "http://127.0.0.1:$port/storage/v1/b?project=test"; do
        alive gcs || fail "gcp-storage-emulator exited" "$STATE/gcs.log"
        ((SECONDS < deadline)) || fail "gcp-storage-emulator did not answer within ${READY_SECONDS}s" "$STATE/gcs.log"
        sleep 0.2
    done
    until [[ -s $STATE/pubsub.out ]] && (exec 3<>"/dev/tcp/$(tr : / <"$STATE/pubsub.out" | head -1)") 2>/dev/null; do
        alive pubsub || fail "the Pub/Sub fake exited" "$STATE/pubsub.log"
        ((SECONDS < deadline)) || fail "the Pub/Sub fake did not answer within ${READY_SECONDS}s" "$STATE/pubsub.log"
        sleep 0.2
    done
    head -1 "$STATE/pubsub.out" >"$STATE/pubsub.addr"
    log "GCS emulator on http://$(cat "$STATE/gcs.addr"), Pub/Sub fake on $(cat "$STATE/pubsub.addr")"
    print_env
}

stop_one() {
    if alive "$1"; then
        local pid
        pid=$(cat "$STATE/$1.pid")
        kill "$pid"
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        log "stopped $1 (pid $pid)"
    fi
    rm -f "$STATE/$1.pid" "$STATE/$1.addr"
}

stop() {
    stop_one gcs
    stop_one pubsub
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    install)
        install
        echo "export CRASHCTL_TEST_GCS_SERVER=$(gcs_exe)"
        echo "export CRASHCTL_TEST_PUBSUB_SERVER=$PWD/$FAKE"
        ;;
    env)
        running || { log "not running; use: .ci/gcp.sh start"; exit 2; }
        print_env
        ;;
    *)
        echo "usage: .ci/gcp.sh start|stop|env|install" >&2
        exit 2
        ;;
esac

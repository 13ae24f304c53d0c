#!/usr/bin/env bash
# A local S3+SQS-compatible server (moto, from PyPI) for the remote-backend tests.
#
#   .ci/moto.sh start    install moto[server] if needed, start it on 127.0.0.1 on a free port,
#                        wait until it answers, print the environment the tests read
#                        (so: eval "$(.ci/moto.sh start)"; cargo test)
#   .ci/moto.sh env      print that environment again (for a server already started)
#   .ci/moto.sh stop     stop the server started by `start`
#   .ci/moto.sh test ARGS  start, run `cargo test ARGS` with that environment, stop
#
# State (pid, port, log) lives in target/moto/. Only the server this script started is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=target/moto
PIDFILE=$STATE/pid
PORTFILE=$STATE/port
LOG=$STATE/server.log
READY_SECONDS=${MOTO_READY_SECONDS:-60}

log() { echo "moto.sh: $*" >&2; }

# The moto_server executable: on PATH, else a wrapper around `python3 -m moto.server` (pip may
# install its scripts to a directory that is not on PATH).
server_exe() {
    if command -v moto_server 2>/dev/null; then
        return
    fi
    mkdir -p "$STATE"
    printf '#!/bin/sh\nexec python3 -m moto.server "$@"\n' >"$STATE/moto_server"
    chmod +x "$STATE/moto_server"
    echo "$PWD/$STATE/moto_server"
}

install() {
    if command -v moto_server >/dev/null 2>&1 || python3 -c 'import moto.server, flask' 2>/dev/null; then
        return
    fi
    log "installing moto[server] from PyPI"
    python3 -m pip install --quiet 'moto[server]>=5,<6' >&2
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

running() {
    [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

print_env() {
    local port
    port=$(cat "$PORTFILE")
    cat <<EOF
export CRASHCTL_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export CRASHCTL_TEST_MOTO_SERVER=$(server_exe)
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
EOF
}

start() {
    if running; then
        log "already running (pid $(cat "$PIDFILE"), port $(cat "$PORTFILE"))"
        print_env
        return
    fi
    install
    mkdir -p "$STATE"
    local port pid deadline
    port=$(free_port)
    # setsid: the server does not get the terminal's Ctrl-C meant for cargo test.
    setsid "$(server_exe)" -H 127.0.0.1 -p "$port" >"$LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
    echo "$port" >"$PORTFILE"
    deadline=$((SECONDS + READY_SECONDS))
    until curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "moto_server exited; its log:"
            cat "$LOG" >&2
            rm -f "$PIDFILE" "$PORTFILE"
            exit 2
        fi
        if ((SECONDS >= deadline)); then
            log "moto_server did not answer within ${READY_SECONDS}s; its log:"
            cat "$LOG" >&2
            stop
            exit 2
        fi
        sleep 0.2
    done
    log "moto_server ready on http://127.0.0.1:$port (pid $pid)"
    print_env
}

stop() {
    if running; then
        local pid
        pid=$(cat "$PIDFILE")
        kill "$pid"
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        log "stopped moto_server (pid $pid)"
    fi
    rm -f "$PIDFILE" "$PORTFILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env)
        running || { log "not running; use: .ci/moto.sh start"; exit 2; }
        print_env
        ;;
    test)
        shift
        running || trap stop EXIT # a server that was already running is left alone
        eval "$(start)"
        cargo test "$@"
        ;;
    *)
        echo "usage: .ci/moto.sh start|stop|env|test [cargo test args]" >&2
        exit 2
        ;;
esac

#!/usr/bin/env bash
# A real S3-compatible server on the loopback address for the StorageManager tests: moto's
# standalone server (PyPI `moto[server]`), which speaks the S3 REST API over HTTP.
#
#   eval "$(scripts/s3-test-server.sh start)"   # starts it, prints `export EMREBUILD_S3_ENDPOINT=…`
#   scripts/s3-test-server.sh stop              # stops the server this script started
#
# The tests read EMREBUILD_S3_ENDPOINT (host:port). Without it they skip, except under CI=true,
# where they fail. Progress and errors go to stderr; only the export line goes to stdout.
set -euo pipefail

port="${EMREBUILD_S3_PORT:-9917}"
state="${TMPDIR:-/tmp}/emrebuild-s3-test-server"
pidfile="$state/pid"
log="$state/server.log"

start() {
    mkdir -p "$state"
    if ! python3 -c 'import moto.server, flask, flask_cors' 2>/dev/null; then
        echo "s3-test-server: installing moto[server] from PyPI" >&2
        python3 -m pip install --quiet 'moto[server]' >&2
    fi
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "s3-test-server: already running (pid $(cat "$pidfile"))" >&2
    else
        python3 -m moto.server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
        echo $! >"$pidfile"
    fi
    for _ in $(seq 1 120); do
        if python3 - "$port" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2)
PY
            echo "s3-test-server: listening on 127.0.0.1:$port (pid $(cat "$pidfile"))" >&2
            echo "export EMREBUILD_S3_ENDPOINT=127.0.0.1:$port"
            return 0
        fi
        if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            echo "s3-test-server: the server exited; its log:" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.5
    done
    echo "s3-test-server: not answering after 60 s; its log:" >&2
    cat "$log" >&2
    return 1
}

stop() {
    if [ -f "$pidfile" ]; then
        kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

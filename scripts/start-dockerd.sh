#!/usr/bin/env bash
# Start dockerd in the background where there is no systemd (CI containers, sandboxes).
# Idempotent: returns at once when an engine already answers. Waits (bounded) for `docker info`.
#
#   scripts/start-dockerd.sh            # log to $DOCKERD_LOG (default /var/log/dockerd.log)
#   DOCKERD_WAIT=120 scripts/start-dockerd.sh
set -euo pipefail

log="${DOCKERD_LOG:-/var/log/dockerd.log}"
wait_s="${DOCKERD_WAIT:-60}"

if docker info >/dev/null 2>&1; then
    echo "dockerd already running"
    exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
    echo "dockerd is not installed: apt-get install -y docker.io" >&2
    exit 1
fi
if [ "$(id -u)" != "0" ]; then
    echo "dockerd needs root: run this script with sudo" >&2
    exit 1
fi

# A dockerd that is still shutting down (a restart) holds the pid file: let it finish.
pidfile=/var/run/docker.pid
if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    old=$(cat "$pidfile")
    for _ in $(seq "$wait_s"); do
        kill -0 "$old" 2>/dev/null || break
        if docker info >/dev/null 2>&1; then echo "dockerd already running"; exit 0; fi
        sleep 1
    done
    if kill -0 "$old" 2>/dev/null; then
        echo "dockerd (pid $old) neither answers nor exits; see $log" >&2
        exit 1
    fi
fi

mkdir -p "$(dirname "$log")"
# setsid: the daemon outlives this shell and the CI step that started it.
setsid dockerd ${DOCKERD_ARGS:-} >>"$log" 2>&1 </dev/null &
pid=$!
echo "dockerd started (pid $pid), log: $log"

for _ in $(seq "$wait_s"); do
    if docker info >/dev/null 2>&1; then
        echo "dockerd is ready"
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "dockerd exited; last lines of $log:" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    sleep 1
done
echo "dockerd did not answer within ${wait_s}s; last lines of $log:" >&2
tail -n 30 "$log" >&2
exit 1

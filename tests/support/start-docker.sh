#!/usr/bin/env bash
# Makes `docker info` work on a Debian/Ubuntu CI machine: installs Debian's docker.io when
# dockerd is missing, starts dockerd in the background (log: ${TMPDIR:-/tmp}/dockerd.log) and
# waits up to 60 s for it to answer. Idempotent: does nothing when the daemon already answers.
# Needs root, or sudo without a password. Prints one line saying what it did (errors: stderr).
set -euo pipefail

say() { printf 'start-docker: %s\n' "$*"; }
fail() {
    say "error: $*" >&2
    exit 1
}

# 0: answers; 1: no daemon (yet); exits on a daemon that refuses us (starting another one
# would not help).
probe() {
    local out
    out=$(docker info 2>&1 >/dev/null) && return 0
    case $out in
    *"permission denied"*)
        fail "no permission to use the Docker socket: add $(id -un) to the docker group (then log in again)"
        ;;
    esac
    return 1
}

if probe; then
    say "the Docker daemon already answers"
    exit 0
fi

sudo=()
if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || fail "not root and no sudo: cannot install or start dockerd"
    sudo=(sudo -n)
fi
tmp=${TMPDIR:-/tmp}
log=$tmp/dockerd.log

did=
if ! command -v dockerd >/dev/null; then
    apt_log=$tmp/start-docker-apt.log
    if ! { "${sudo[@]}" apt-get update -qq &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io; } >"$apt_log" 2>&1; then
        tail -n 20 "$apt_log" >&2
        fail "could not install docker.io (full log: $apt_log)"
    fi
    did="installed docker.io, "
    # Where systemd runs, the package starts the daemon itself.
    if probe; then
        say "${did}the Docker daemon answers"
        exit 0
    fi
fi

show_log() {
    { tail -n 30 "$log" || "${sudo[@]}" tail -n 30 "$log"; } >&2 2>/dev/null || true
}

pidfile=/var/run/docker.pid
if [[ -s $pidfile ]] && pid=$(cat "$pidfile") && "${sudo[@]}" kill -0 "$pid" 2>/dev/null; then
    did="${did}waited for the dockerd already running"
else
    # setsid + nohup + no inherited descriptors: the daemon outlives this script and does not
    # hold the pipes of whoever captures this script's output. Both exec, so $! is dockerd.
    # shellcheck disable=SC2016 # $1 is expanded by that sh
    pid=$("${sudo[@]}" sh -c 'nohup setsid dockerd >"$1" 2>&1 </dev/null & echo $!' sh "$log")
    did="${did}started dockerd (pid $pid, log: $log)"
fi

tries=0
until probe; do
    if ! "${sudo[@]}" kill -0 "$pid" 2>/dev/null; then
        say "error: dockerd exited; last lines of $log:" >&2
        show_log
        exit 1
    fi
    if ((tries >= 120)); then
        say "error: the Docker daemon did not answer within 60 s; last lines of $log:" >&2
        show_log
        exit 1
    fi
    sleep 0.5
    tries=$((tries + 1))
done
say "$did, ready after $((tries / 2)) s"

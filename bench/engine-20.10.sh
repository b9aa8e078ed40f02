#!/usr/bin/env bash
# The benchmark on Docker Engine 20.10, Debian 12's own engine (API 1.41),
# beside the machine's engine and without touching it:
#
#   bench/engine-20.10.sh [bench/run.sh options]     e.g. --repeat 3
#   bench/engine-20.10.sh --tear-down                 remove what a killed run left
#
# It downloads Debian 12's docker.io package (never installing it), extracts
# dockerd, starts it in a network namespace of its own (its docker0, iptables
# and published ports live there), loads the stand-in images into it, runs
# ./bench/run.sh inside that namespace against it, and then removes exactly
# what it created: that dockerd (and the containerd it started), the
# namespace and its directories. See bench/README.md.
#
# Needs root, iproute2, util-linux (nsenter), apt with Debian 12 (bookworm)
# sources, and the machine's docker CLI and engine (for the stand-ins).
# Exit status: the benchmark's, or 1 when the engine could not be set up.
set -Eeuo pipefail
trap 'echo "engine-20.10.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

ROOT="$(cd -P "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly PACKAGE="docker.io=20.10.24+dfsg1-1+deb12u1+b6"
readonly NETNS=tb2010
readonly NETNS_PATH="/var/run/netns/$NETNS"
readonly RUN_DIR=/run/tb2010
readonly DATA_ROOT=/var/lib/tb2010
readonly SOCKET="$RUN_DIR/docker.sock"
readonly PIDFILE="$RUN_DIR/docker.pid"
readonly DOCKERD_LOG="$RUN_DIR/dockerd.log"
readonly STANDINS=(
    transbot-standin/base:bookworm
    transbot-standin/postgres:15
    transbot-standin/redis:7
    transbot-standin/langfuse:2
)

# What this run created, so the clean-up removes that and nothing else.
WORK_DIR=
CREATED_NETNS=false
CREATED_DIRS=false
DOCKERD_PID=

die() {
    printf 'engine-20.10.sh: error: %s\n' "$*" >&2
    exit 1
}

log() {
    printf '[engine-20.10] %s\n' "$*" >&2
}

usage() {
    sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

check_prerequisites() {
    [[ "$(id -u)" == 0 ]] || die "needs root (network namespaces, a second dockerd); run it with sudo"
    local tool
    for tool in ip nsenter apt-get dpkg-deb docker; do
        command -v "$tool" >/dev/null || die "$tool is missing (iproute2, util-linux, apt, docker CLI)"
    done
    docker info >/dev/null 2>&1 || die "the machine's engine does not answer: it provides the stand-in images"
}

# Leftovers of a killed run: refuse rather than reuse or delete them silently.
check_nothing_left() {
    if [[ -e "$NETNS_PATH" || -e "$RUN_DIR" || -e "$DATA_ROOT" ]]; then
        die "$NETNS_PATH, $RUN_DIR or $DATA_ROOT exists (a killed run?): remove them with $0 --tear-down"
    fi
}

# The package is downloaded and unpacked into a scratch directory: nothing
# is installed, the machine's docker.io (26) stays the only one dpkg knows.
extract_engine() {
    WORK_DIR="$(mktemp -d /var/tmp/tb2010-engine.XXXXXX)"
    # apt's sandbox user must be able to write the download.
    chmod 0755 "$WORK_DIR"
    log "downloading $PACKAGE (not installing it)"
    (cd "$WORK_DIR" && apt-get download -q "$PACKAGE" >/dev/null 2>"$WORK_DIR/apt.log") ||
        { cat "$WORK_DIR/apt.log" >&2; die "apt-get download $PACKAGE failed (are bookworm sources configured?)"; }
    dpkg-deb -x "$WORK_DIR"/docker.io_*.deb "$WORK_DIR/root"
    [[ -x "$WORK_DIR/root/usr/sbin/dockerd" ]] || die "the package has no usr/sbin/dockerd"
}

create_namespace() {
    ip netns add "$NETNS"
    CREATED_NETNS=true
    # Published ports bind to 127.0.0.1 inside the namespace.
    nsenter --net="$NETNS_PATH" ip link set lo up
    mkdir -p "$RUN_DIR" "$DATA_ROOT"
    CREATED_DIRS=true
}

# nsenter, not `ip netns exec`: the latter remounts /sys, which hides the
# cgroup hierarchy dockerd and the benchmark read. No -b/--bridge: that
# deletes an existing docker0 (here it would only be the namespace's own).
# Its own containerd namespaces keep it apart even if it finds a system
# containerd; the extracted directory comes first in PATH so it runs its
# own docker-proxy.
start_dockerd() {
    local engine_root="$WORK_DIR/root"
    log "starting dockerd 20.10 in network namespace $NETNS ($SOCKET)"
    nsenter --net="$NETNS_PATH" env PATH="$engine_root/usr/sbin:$engine_root/usr/bin:$PATH" \
        "$engine_root/usr/sbin/dockerd" \
        -H "unix://$SOCKET" \
        --data-root "$DATA_ROOT" \
        --exec-root "$RUN_DIR/exec" \
        --pidfile "$PIDFILE" \
        --containerd-namespace tb2010 \
        --containerd-plugins-namespace tb2010-plugins \
        >"$DOCKERD_LOG" 2>&1 </dev/null &
    DOCKERD_PID=$!
    wait_for_dockerd
}

wait_for_dockerd() {
    local tries
    for ((tries = 0; tries < 120; tries++)); do
        if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            tail -n 30 "$DOCKERD_LOG" >&2 || true
            DOCKERD_PID=
            die "dockerd 20.10 exited during start-up (log above)"
        fi
        if DOCKER_HOST="unix://$SOCKET" docker version >/dev/null 2>&1; then
            log "engine up: $(DOCKER_HOST="unix://$SOCKET" docker version --format 'Engine {{.Server.Version}}, API {{.Server.APIVersion}}')"
            return
        fi
        sleep 0.5
    done
    tail -n 30 "$DOCKERD_LOG" >&2 || true
    die "dockerd 20.10 did not answer on $SOCKET within 60 s (log above)"
}

# The namespace has no route out, and the stand-ins are built on the
# machine's engine (build.sh reuses them when current); their labels travel
# with `docker save`, so build.sh inside finds them current too.
load_standins() {
    log "stand-in images: building or reusing them on the machine's engine"
    "$ROOT/tests/images/build.sh" >&2
    log "loading them into Engine 20.10"
    docker save "${STANDINS[@]}" | DOCKER_HOST="unix://$SOCKET" docker load -q >&2
}

run_bench() {
    # Creates or refreshes tests/.venv while PyPI is reachable (it is not
    # from inside the namespace); run.sh then finds it current.
    "$ROOT/tests/run.sh" --version >/dev/null
    log "running bench/run.sh $* inside $NETNS"
    nsenter --net="$NETNS_PATH" env DOCKER_HOST="unix://$SOCKET" TRANSBOT_TEST_IMAGES=local \
        "$ROOT/bench/run.sh" "$@"
}

# dockerd stops its containers and its containerd on SIGTERM; what it left
# mounted under its data root is unmounted before the directory goes.
stop_dockerd() {
    local pid="$1" tries
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((tries = 0; tries < 120; tries++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    log "dockerd $pid did not stop within 60 s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

unmount_under() {
    local dir="$1" mountpoint
    # Deepest first; mountinfo escapes spaces as \040, which these paths have not.
    awk -v dir="$dir" '$5 == dir || index($5, dir "/") == 1 { print $5 }' /proc/self/mountinfo |
        sort -r | while IFS= read -r mountpoint; do
            umount -l "$mountpoint" 2>/dev/null || true
        done
}

clean_up() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n "$DOCKERD_PID" ]]; then
        log "stopping dockerd 20.10"
        stop_dockerd "$DOCKERD_PID"
    fi
    if [[ "$CREATED_DIRS" == true ]]; then
        unmount_under "$RUN_DIR"
        unmount_under "$DATA_ROOT"
        rm -rf -- "$RUN_DIR" "$DATA_ROOT"
    fi
    if [[ "$CREATED_NETNS" == true ]]; then
        ip netns delete "$NETNS" 2>/dev/null || true
    fi
    if [[ -n "$WORK_DIR" ]]; then
        rm -rf -- "$WORK_DIR"
    fi
    exit "$status"
}

# For a run that was killed (SIGKILL, a reboot's leftovers in /var/lib):
# only this script's dockerd (named by its pidfile and its socket), its
# namespace and its directories.
tear_down() {
    local pid
    if [[ -r "$PIDFILE" ]]; then
        pid="$(<"$PIDFILE")"
        if [[ "$pid" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "unix://$SOCKET"; then
            log "stopping the leftover dockerd $pid"
            stop_dockerd "$pid"
        fi
    fi
    unmount_under "$RUN_DIR"
    unmount_under "$DATA_ROOT"
    rm -rf -- "$RUN_DIR" "$DATA_ROOT"
    if [[ -e "$NETNS_PATH" ]]; then
        ip netns delete "$NETNS"
    fi
    rm -rf -- /var/tmp/tb2010-engine.*
    log "removed what an earlier run left"
}

main() {
    case "${1:-}" in
    -h | --help)
        usage
        return 0
        ;;
    --tear-down)
        check_prerequisites
        tear_down
        return 0
        ;;
    esac
    check_prerequisites
    check_nothing_left
    trap clean_up EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    extract_engine
    create_namespace
    start_dockerd
    load_standins
    run_bench "$@"
}

main "$@"

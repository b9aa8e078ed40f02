#!/usr/bin/env bash
# The benchmark on a Docker engine of its own, beside the machine's engine
# and without touching it:
#
#   bench/engine-beside.sh --engine 20.10 [bench/run.sh options]
#   bench/engine-beside.sh --engine installed [bench/run.sh options]
#   bench/engine-beside.sh --engine 20.10|installed --tear-down
#
# 20.10 is Debian 12's own engine (API 1.41): its docker.io package is
# downloaded and extracted, never installed (bench/engine-20.10.sh is this
# with --engine 20.10). installed is a second dockerd of the machine's own
# docker.io (26 here), so that the engine's CPU is the benchmark's alone and
# not shared with every other stack on the machine's engine.
#
# That dockerd runs in a network namespace of its own (its docker0,
# iptables and published ports live there), with its own socket, data root,
# exec root, containerd and config; the stand-in images are loaded into it,
# ./bench/run.sh runs inside that namespace against it, and then exactly
# what was created is removed: that dockerd (and the containerd it started),
# the namespace and its directories. See bench/README.md.
#
# Needs root, iproute2, util-linux (nsenter), for 20.10 apt with Debian 12
# (bookworm) sources, and the machine's docker CLI and engine (for the
# stand-ins). Exit status: the benchmark's, or 1 when the engine could not
# be set up.
set -Eeuo pipefail
trap 'echo "engine-beside.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

ROOT="$(cd -P "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly PACKAGE="docker.io=20.10.24+dfsg1-1+deb12u1+b6"
readonly INSTALLED_DOCKERD=/usr/sbin/dockerd
# Set by choose_engine: one name for the namespace, the directories and the
# containerd namespaces of each engine, so the two never meet.
ENGINE=
NAME=
NETNS_PATH=
RUN_DIR=
DATA_ROOT=
SOCKET=
PIDFILE=
DOCKERD_LOG=
DOCKERD=
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
    printf 'engine-beside.sh: error: %s\n' "$*" >&2
    exit 1
}

log() {
    printf '[engine %s] %s\n' "${ENGINE:-?}" "$*" >&2
}

usage() {
    sed -n '2,26s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

choose_engine() {
    case "$1" in
    20.10) NAME=tb2010 ;;
    installed) NAME=tb26 ;;
    *) die "--engine takes 20.10 or installed, not '$1' (see --help)" ;;
    esac
    ENGINE="$1"
    NETNS_PATH="/var/run/netns/$NAME"
    RUN_DIR="/run/$NAME"
    DATA_ROOT="/var/lib/$NAME"
    SOCKET="$RUN_DIR/docker.sock"
    PIDFILE="$RUN_DIR/docker.pid"
    DOCKERD_LOG="$RUN_DIR/dockerd.log"
    readonly ENGINE NAME NETNS_PATH RUN_DIR DATA_ROOT SOCKET PIDFILE DOCKERD_LOG
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
        die "$NETNS_PATH, $RUN_DIR or $DATA_ROOT exists (a killed run?): remove them with bench/engine-beside.sh --engine $ENGINE --tear-down"
    fi
}

# The package is downloaded and unpacked into a scratch directory: nothing
# is installed, the machine's docker.io (26) stays the only one dpkg knows.
extract_engine() {
    WORK_DIR="$(mktemp -d "/var/tmp/$NAME-engine.XXXXXX")"
    if [[ "$ENGINE" == installed ]]; then
        [[ -x "$INSTALLED_DOCKERD" ]] || die "$INSTALLED_DOCKERD is missing: install docker.io, or use --engine 20.10"
        DOCKERD="$INSTALLED_DOCKERD"
        return
    fi
    # apt's sandbox user must be able to write the download.
    chmod 0755 "$WORK_DIR"
    log "downloading $PACKAGE (not installing it)"
    (cd "$WORK_DIR" && apt-get download -q "$PACKAGE" >/dev/null 2>"$WORK_DIR/apt.log") ||
        { cat "$WORK_DIR/apt.log" >&2; die "apt-get download $PACKAGE failed (are bookworm sources configured?)"; }
    dpkg-deb -x "$WORK_DIR"/docker.io_*.deb "$WORK_DIR/root"
    [[ -x "$WORK_DIR/root/usr/sbin/dockerd" ]] || die "the package has no usr/sbin/dockerd"
    DOCKERD="$WORK_DIR/root/usr/sbin/dockerd"
}

create_namespace() {
    ip netns add "$NAME"
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
# containerd; an empty config file keeps /etc/docker/daemon.json (the
# machine engine's) out; dockerd's own directory comes first in PATH so it
# runs its own docker-proxy.
start_dockerd() {
    local bin_dir
    bin_dir="$(dirname -- "$DOCKERD")"
    printf '{}\n' >"$RUN_DIR/daemon.json"
    log "starting $DOCKERD in network namespace $NAME ($SOCKET)"
    nsenter --net="$NETNS_PATH" env PATH="$bin_dir:$bin_dir/../bin:$PATH" \
        "$DOCKERD" \
        --config-file "$RUN_DIR/daemon.json" \
        -H "unix://$SOCKET" \
        --data-root "$DATA_ROOT" \
        --exec-root "$RUN_DIR/exec" \
        --pidfile "$PIDFILE" \
        --containerd-namespace "$NAME" \
        --containerd-plugins-namespace "$NAME-plugins" \
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
            die "the second dockerd exited during start-up (log above)"
        fi
        if DOCKER_HOST="unix://$SOCKET" docker version >/dev/null 2>&1; then
            log "engine up: $(DOCKER_HOST="unix://$SOCKET" docker version --format 'Engine {{.Server.Version}}, API {{.Server.APIVersion}}')"
            return
        fi
        sleep 0.5
    done
    tail -n 30 "$DOCKERD_LOG" >&2 || true
    die "the second dockerd did not answer on $SOCKET within 60 s (log above)"
}

# The namespace has no route out, and the stand-ins are built on the
# machine's engine (build.sh reuses them when current); their labels travel
# with `docker save`, so build.sh inside finds them current too.
load_standins() {
    log "stand-in images: building or reusing them on the machine's engine"
    "$ROOT/tests/images/build.sh" >&2
    log "loading them into the engine beside"
    docker save "${STANDINS[@]}" | DOCKER_HOST="unix://$SOCKET" docker load -q >&2
}

run_bench() {
    # Creates or refreshes tests/.venv while PyPI is reachable (it is not
    # from inside the namespace); run.sh then finds it current.
    "$ROOT/tests/run.sh" --version >/dev/null
    log "running bench/run.sh $* inside network namespace $NAME"
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
        log "stopping the second dockerd"
        stop_dockerd "$DOCKERD_PID"
    fi
    if [[ "$CREATED_DIRS" == true ]]; then
        unmount_under "$RUN_DIR"
        unmount_under "$DATA_ROOT"
        rm -rf -- "$RUN_DIR" "$DATA_ROOT"
    fi
    if [[ "$CREATED_NETNS" == true ]]; then
        ip netns delete "$NAME" 2>/dev/null || true
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
        ip netns delete "$NAME"
    fi
    rm -rf -- "/var/tmp/$NAME-engine."*
    log "removed what an earlier run left"
}

main() {
    case "${1:-}" in
    -h | --help)
        usage
        return 0
        ;;
    --engine)
        [[ $# -ge 2 ]] || die "--engine needs 20.10 or installed (see --help)"
        choose_engine "$2"
        shift 2
        ;;
    --engine=*)
        choose_engine "${1#--engine=}"
        shift
        ;;
    *) die "the first argument must be --engine 20.10 or --engine installed (see --help)" ;;
    esac
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

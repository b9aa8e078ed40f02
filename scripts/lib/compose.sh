# shellcheck shell=bash
# Running Compose on this project: compose and compose_or_die (its output
# masked), `up` in the background beside the wait for health, and the
# workaround Compose v1 needs on Engine 25+. Loaded after docker.sh (the
# Compose command, the compose files, the project's name, the versions),
# engine.sh (the workaround finds a container by asking the engine), env.sh
# (ENV_FILE, redact_secrets) and lock.sh (release_stack_lock). Sourced,
# never run.

# Compose on this project. From the repository root, so Compose finds
# docker-compose.yml and merges a docker-compose.override.yml beside it, or
# reads COMPOSE_FILE, exactly as it would for a user typing the command.
compose() {
    local args=(--project-name "$(project_name)" "${COMPOSE_FILES[@]}")
    [[ ! -f "$ENV_FILE" ]] || args+=(--env-file "$ENV_FILE")
    (cd "$REPO_ROOT" && "${COMPOSE[@]}" "${args[@]}" "$@")
}

# Compose, its output masked, failing with one message that says what to do.
# Usage: compose_or_die "WHAT FAILED; WHAT TO DO" COMPOSE ARGUMENTS...
compose_or_die() {
    local failure="$1"
    shift
    compose "$@" 2>&1 | redact_secrets || die "$failure"
}

# `compose up -d` for SERVICES (none: the whole stack), its output masked;
# returns Compose's status. RECREATABLE are the services whose containers it
# may replace (the services and their dependencies).
# Usage: compose_up [SERVICE...] -- RECREATABLE...
compose_up() {
    local -a services=()
    while [[ "$1" != -- ]]; do services+=("$1"); shift; done
    shift
    _clear_what_compose_v1_cannot_recreate "$@"
    compose up -d "${services[@]}" 2>&1 | redact_secrets
}

# --- `up` beside the wait ----------------------------------------------------------
#
# start.sh and restart.sh run `compose up -d` in the background and wait for
# health beside it: Compose's own wait for a healthy dependency (langfuse
# on postgres) is then inside the script's --timeout, and the script can say
# what it still waits for. `up` runs in a process group of its own: Ctrl-C
# at the terminal reaches the script alone, which stops `up` itself and
# says "interrupted" once (Compose catches SIGINT and would exit with a
# failure of its own, and Compose v1 print "Aborting.").

_UP_PID=""          # the background `up` (the leader of its process group) while it runs
_UP_STATUS=""       # its exit status once it has ended
_UP_STATUS_FILE=""  # where it writes that status
_UP_RELEASES_LOCK=false
_UP_WANTS_DETAIL=false  # take _UP_DETAIL when `up` has succeeded (start.sh's record)
_UP_DETAIL=""           # the project's containers then (project_containers_in_detail)

# Starts `compose up -d` for SERVICES in the background, its output masked,
# and returns at once. With --release-lock, the clone's lock is released
# when `up` has succeeded: the caller changes nothing after it, and another
# command (stop.sh) need not wait for the health wait.
# Usage: compose_up_in_background [--release-lock] [SERVICE...] -- RECREATABLE...
compose_up_in_background() {
    local -a services=()
    if [[ "$1" == --release-lock ]]; then
        _UP_RELEASES_LOCK=true
        shift
    fi
    while [[ "$1" != -- ]]; do services+=("$1"); shift; done
    shift
    _clear_what_compose_v1_cannot_recreate "$@"
    _UP_STATUS_FILE="$(mktemp)"
    _UP_STATUS=""
    # Stopped before its status file is removed: it would write it anew.
    at_exit stop_compose_up
    at_exit "rm -f $(printf '%q' "$_UP_STATUS_FILE")"
    # -m only while forking: the job gets its own process group, and every
    # other command stays in the script's (Ctrl-C must reach those).
    set -m
    (
        status=0
        compose up -d "${services[@]}" </dev/null 2>&1 | redact_secrets || status=$?
        printf '%s\n' "$status" >"$_UP_STATUS_FILE"
    ) &
    _UP_PID="$!"
    set +m
}

# Whether the background `up` still runs; once it has ended, _UP_STATUS is
# its exit status. Builtins only: a wait asks this ten times a second.
compose_up_running() {
    [[ -n "$_UP_PID" ]] || return 1
    if [[ ! -s "$_UP_STATUS_FILE" ]] && kill -0 "$_UP_PID" 2>/dev/null; then
        return 0
    fi
    _UP_STATUS=1 # ended without a word: killed
    [[ ! -s "$_UP_STATUS_FILE" ]] || read -r _UP_STATUS <"$_UP_STATUS_FILE" || true
    wait "$_UP_PID" 2>/dev/null || true
    _UP_PID=""
    if ((_UP_STATUS == 0)) && $_UP_RELEASES_LOCK; then
        # Still under the lock: what this `up` made, before another command
        # may change it.
        if $_UP_WANTS_DETAIL; then
            _UP_DETAIL="$(project_containers_in_detail 2>/dev/null)" || _UP_DETAIL=""
        fi
        release_stack_lock
    fi
    return 1
}

# Stops the background `up`, if it runs, and waits for it to end: SIGTERM
# to its process group (its output ends with it: the masking awk goes
# first), SIGKILL after 10 s. Compose v2 cancels what it was doing; the
# containers it has made are left as they are, and a next start.sh carries
# on from there.
stop_compose_up() {
    local tenths=0
    [[ -n "$_UP_PID" ]] || return 0
    kill -TERM -- "-$_UP_PID" 2>/dev/null || true
    while kill -0 -- "-$_UP_PID" 2>/dev/null && ((tenths < 100)); do
        sleep 0.1
        tenths=$((tenths + 1))
    done
    kill -KILL -- "-$_UP_PID" 2>/dev/null || true
    wait "$_UP_PID" 2>/dev/null || true
    _UP_PID=""
}

# Compose v1 recreates a changed container from its image's ContainerConfig,
# which Engine 25+ no longer reports: it then crashes (KeyError:
# 'ContainerConfig') and leaves the service down. For it, a container whose
# configuration changed is removed first and `up` creates it afresh. The
# built-in services keep their data in volumes/; anonymous volumes of a
# service of your own are not carried over, as they would be on Compose v2.
_clear_what_compose_v1_cannot_recreate() {
    local service hash container current
    compose_is_v1 && version_at_least "$ENGINE_API" 1.44 || return 0
    (($# > 0)) || return 0
    while read -r service hash; do
        grep -qxF -- "$service" < <(printf '%s\n' "$@") || continue
        container="$(container_of "$service")"
        [[ -n "$container" ]] || continue
        current="$(docker inspect --format '{{index .Config.Labels "com.docker.compose.config-hash"}}' "$container")"
        [[ "$current" != "$hash" ]] || continue
        step "Compose v1 cannot recreate $service on Docker Engine 25+; removing its old container first (data in volumes/ is kept)..."
        if ! { docker stop --time 60 "$container" && docker rm "$container"; } >/dev/null; then
            die "could not remove the old $service container; remove it (docker rm -f $container) or use Compose v2"
        fi
    done < <(compose config --hash="$(IFS=,; printf '%s' "$*")" 2> >(redact_secrets >&2))
}

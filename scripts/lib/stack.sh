# shellcheck shell=bash
# A stack belongs to its clone, and changes it one command at a time.
# Sourced, never run.

# --- Whose stack is it? -------------------------------------------------------------

# Compose labels every container with the folder it was started from. A
# second clone (a worktree, an old checkout) with the same project name would
# otherwise recreate the first one's containers on its own volumes/ and
# .env.infra: the first clone's data would seem gone and its passwords wrong.
require_own_stack() {
    require_own_stack_in "$(project_containers)"
}

# The same for a project_containers listing the caller already has.
# Usage: require_own_stack_in CONTAINERS
require_own_stack_in() {
    local containers="$1" folder
    while IFS= read -r folder; do
        [[ -n "$folder" ]] || continue
        [[ ! "$folder" -ef "$REPO_ROOT" ]] || continue
        if [[ -d "$folder" ]]; then
            die "the stack '$(project_name)' is running from another clone, $(printable "$folder"), with that clone's data and passwords; stop it there (cd $(printable "$folder") && ./scripts/stop.sh), or run this clone as a stack of its own: set COMPOSE_PROJECT_NAME (e.g. COMPOSE_PROJECT_NAME=transbot2) and free ports (POSTGRES_PORT, LANGFUSE_PORT, REDIS_PORT) in this clone's .env.infra"
        fi
        die "the stack '$(project_name)' was started from $(printable "$folder"), which no longer exists; remove its containers (data there is gone with its folder): docker rm -f \$(docker ps -aq --filter label=com.docker.compose.project=$(project_name)), or set COMPOSE_PROJECT_NAME in .env.infra to run this clone's stack beside it"
    done < <(cut -s -d' ' -f3- <<<"$containers" | sort -u)
}

# --- One data folder, one server ------------------------------------------------------

# Two PostgreSQL (or Redis) servers on one data folder corrupt it. Compose
# tells stacks apart by project name only, so in this very clone another
# COMPOSE_PROJECT_NAME, a regenerated .env.infra or a by-hand `docker compose
# up` named after the folder would start a second server on volumes/. So
# before a server or a throw-away container is started on the data folder
# of one of SERVICES, the engine's running containers (RUNNING, from
# running_containers) are asked what they mount, compared by inode (-ef: a
# symlink or another spelling of the path is the same folder). This
# project's own container of that service is no conflict (Compose reuses
# or recreates it); any other is refused, naming it, before anything starts.
# Usage: require_free_data_folders RUNNING SERVICE...
require_free_data_folders() {
    local running="$1" ours service folder line name project owner from source
    local -a ids mounts=()
    shift
    ours="$(project_name)"
    mapfile -t ids < <(running_ids "$running")
    ((${#ids[@]} > 0)) || return 0
    for service in "$@"; do
        folder="$REPO_ROOT/volumes/$(service_field "$service" data)"
        # Not built in, or no data folder yet: nothing can have it mounted.
        [[ -n "$(service_field "$service" data)" && -d "$folder" ]] || continue
        # Asked once, and only when there is a folder to protect.
        ((${#mounts[@]} > 0)) || mapfile -t mounts < <(container_mounts "${ids[@]}")
        for line in "${mounts[@]}"; do
            IFS=$'\x1f' read -r name project owner from source <<<"$line"
            [[ -n "$source" && "$source" -ef "$folder" ]] || continue
            [[ "$project" != "$ours" || "$owner" != "$service" ]] || continue
            die "volumes/$(service_field "$service" data) is in use by the running container $(_container_described "${name#/}" "$project" "$from"), and a second server on one data folder corrupts it; nothing was started or changed. $(_how_to_stop "${name#/}" "$project" "$from"), or run this stack from a clone of its own"
        done
    done
}

# "NAME (project P, started from FOLDER)", as far as the labels tell.
_container_described() {
    local name="$1" project="$2" from="$3"
    if [[ -z "$project" ]]; then
        printf '%s (not started by Compose)' "$(printable "$name")"
    else
        printf '%s (project %s, started from %s)' "$(printable "$name")" "$(printable "$project")" "$(printable "${from:-an unknown folder}")"
    fi
}

# What to type to stop the container NAME and, if it has one, its stack.
_how_to_stop() {
    local name="$1" project="$2" from="$3"
    if [[ -n "$project" && -n "$from" && -x "$from/scripts/stop.sh" ]]; then
        printf 'Stop that stack first (cd %s && COMPOSE_PROJECT_NAME=%s ./scripts/stop.sh, or docker stop %s)' \
            "$(printable "$(printf '%q' "$from")")" "$(printable "$project")" "$(printable "$name")"
    else
        printf 'Stop that container first (docker stop %s)' "$(printable "$name")"
    fi
}

# --- One command at a time ---------------------------------------------------------

readonly LOCK_FILE="$REPO_ROOT/.transbot.lock"
_LOCK_FD=""

# Commands that change the stack or .env.infra take this clone's lock; a
# second one waits for the first, saying so, instead of racing it (two
# `start.sh` on a stopped stack would otherwise both create its network).
# flock releases the lock when the process ends, however it ends. macOS has
# no flock: there a lock folder holding the owner's pid stands in, and a
# folder whose owner is gone is taken over.
take_stack_lock() {
    [[ -z "$_LOCK_FD" ]] || return 0
    if command -v flock >/dev/null 2>&1; then
        _flock_lock
    else
        _mkdir_lock
    fi
}

_lock_holder() {
    local holder
    holder="$(cat "$1" 2>/dev/null)" || true
    printf '%s' "${holder:-another command}"
}

_flock_lock() {
    # The braces keep the redirection of errors to this one command.
    { exec {_LOCK_FD}>>"$LOCK_FILE"; } 2>/dev/null ||
        die "cannot create $LOCK_FILE (the repository folder is not writable by $(id -un)); make it writable, then run ./scripts/$SCRIPT_NAME again"
    if ! flock -n "$_LOCK_FD"; then
        warn "waiting for $(_lock_holder "$LOCK_FILE") in this clone to finish..."
        flock "$_LOCK_FD"
    fi
    _lock_holder_line >"$LOCK_FILE"
}

# Who holds the lock, as the lock file names it; the file keeps naming the
# last command that took the lock after it is released.
_lock_holder_line() {
    printf '%s (pid %s)\n' "$SCRIPT_NAME" "$$"
}

_mkdir_lock() {
    local folder="$LOCK_FILE.d" owner waited=false
    until mkdir "$folder" 2>/dev/null; do
        owner="$(cat "$folder/pid" 2>/dev/null)" || owner=""
        if [[ -n "$owner" ]] && ! kill -0 "$owner" 2>/dev/null; then
            rm -rf "$folder"
            continue
        fi
        $waited || warn "waiting for $(_lock_holder "$folder/holder") in this clone to finish..."
        waited=true
        sleep 0.5
    done
    printf '%s\n' "$$" >"$folder/pid"
    _lock_holder_line >"$folder/holder"
    _lock_holder_line >"$LOCK_FILE" 2>/dev/null || true
    _LOCK_FD="mkdir"
    at_exit release_stack_lock
}

# Lets another command of this clone run before this one ends: for a
# command that will not change the stack or .env.infra again (start.sh once
# `up` has returned, and only the health wait is left).
release_stack_lock() {
    local folder="$LOCK_FILE.d" owner
    case "$_LOCK_FD" in
        "" | released) return 0 ;;
        mkdir)
            # Only our own folder: another command may hold the lock by now.
            { read -r owner <"$folder/pid"; } 2>/dev/null || owner=""
            [[ "$owner" != "$$" ]] || rm -rf "$folder" ;;
        *)
            # Unlocked, not just closed: the event stream and `up` share the
            # descriptor, and would hold the lock while they run.
            flock -u "$_LOCK_FD" || true
            exec {_LOCK_FD}>&- ;;
    esac
    _LOCK_FD="released"
}

# The command that took this clone's lock after this one released it (e.g.
# "stop.sh (pid 42)"), or nothing.
lock_taken_since_release() {
    local holder
    [[ "$_LOCK_FD" == released ]] || return 0
    holder="$(cat "$LOCK_FILE" 2>/dev/null)" || return 0
    [[ -z "$holder" || "$holder" == "$(_lock_holder_line)" ]] || printf '%s' "$holder"
}

# --- Clean-up at exit ----------------------------------------------------------------

# Commands to run when the script exits, however it exits, in order.
_EXIT_HOOKS=()
at_exit() {
    _EXIT_HOOKS+=("$1")
    trap _run_exit_hooks EXIT
}

# Each hook runs once: a signal's handler runs them before its last words,
# and the exit after it finds none left.
_run_exit_hooks() {
    local hook
    local -a hooks=("${_EXIT_HOOKS[@]}")
    _EXIT_HOOKS=()
    for hook in "${hooks[@]}"; do
        eval "$hook" || true
    done
}

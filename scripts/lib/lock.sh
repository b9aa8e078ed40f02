# shellcheck shell=bash
# One command at a time in a clone: the lock that commands changing the
# stack or .env.infra take. Sourced, never run.

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

# Takes the lock only if it is free at once; returns 1, waiting for
# nothing and saying nothing, while another command holds it (start.sh's
# look at a healthy stack is then not worth waiting for: the normal path
# waits, and says so).
try_stack_lock_now() {
    [[ -z "$_LOCK_FD" ]] || return 0
    if ! command -v flock >/dev/null 2>&1; then
        # macOS: the lock folder, if it can be made at once (a folder left
        # by a command that is gone is the normal path's to take over).
        mkdir "$LOCK_FILE.d" 2>/dev/null || return 1
        printf '%s\n' "$$" >"$LOCK_FILE.d/pid"
        _lock_holder_line >"$LOCK_FILE.d/holder"
        _lock_holder_line >"$LOCK_FILE" 2>/dev/null || true
        _LOCK_FD="mkdir"
        at_exit release_stack_lock
        return 0
    fi
    { exec {_LOCK_FD}>>"$LOCK_FILE"; } 2>/dev/null || { _LOCK_FD=""; return 1; }
    if ! flock -n "$_LOCK_FD"; then
        exec {_LOCK_FD}>&-
        _LOCK_FD=""
        return 1
    fi
    _lock_holder_line >"$LOCK_FILE"
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

# shellcheck shell=bash
# Asking ahead. Before start.sh can start anything it needs three answers:
# Compose's version, the engine's API version and the resolved
# configuration (~0.09, ~0.03 and ~0.15 s here). None depends on another,
# so ask_ahead sends the questions at once, in the background, and
# detect_compose, require_daemon and compose_model each take the answer
# when it is the one they would have asked for, and ask afresh otherwise.
# The checks, and their messages, come in the same order as without it.
# Sourced, never run.

declare -A _AHEAD_FD=() _AHEAD_KEY=()
_AHEAD_DIR=""

# Asks each of WHAT ahead: compose (Compose's version), engine (the
# engine's API version), model (the resolved configuration). Compose is
# asked through COMPOSE_COMMAND, else the plugin: the command detect_compose
# tries first.
# Usage: ask_ahead WHAT...
ask_ahead() {
    local what
    local -a guess=(docker compose)
    # Without docker there is nothing to ask; after detection, no need.
    command -v docker >/dev/null 2>&1 && ((${#COMPOSE[@]} == 0)) || return 0
    [[ -z "${COMPOSE_COMMAND:-}" ]] || read -r -a guess <<<"$COMPOSE_COMMAND"
    for what in "$@"; do
        case "$what" in
            compose) _ask compose-version "${guess[*]}" "${guess[@]}" version --short ;;
            engine) _ask engine-api docker docker version --format '{{.Server.APIVersion}}' ;;
            model) _ask model "${guess[*]}" _resolved_config_by "${guess[@]}" ;;
            *) die "ask_ahead: no question '$what'" ;;
        esac
    done
}

# The answer to the question NAME if it was asked ahead with KEY (the
# Compose command it went to): its output, its errors on stderr, its
# status. Otherwise runs COMMAND now. Each answer can be taken once.
# Usage: answer NAME KEY COMMAND...
answer() {
    local name="$1" key="$2" status_file
    shift 2
    if [[ -z "${_AHEAD_FD[$name]:-}" || "${_AHEAD_KEY[$name]}" != "$key" ]]; then
        "$@"
        return
    fi
    # The pipe ends when the question's subshell has written its status.
    cat <&"${_AHEAD_FD[$name]}"
    cat "$_AHEAD_DIR/$name.err" >&2 2>/dev/null || true
    status_file="$_AHEAD_DIR/$name.status"
    [[ -s "$status_file" ]] || return 1
    return "$(<"$status_file")"
}

# Runs COMMAND in the background; its output waits in a pipe, its errors
# and status in _AHEAD_DIR.
# Usage: _ask NAME KEY COMMAND...
_ask() {
    local name="$1" key="$2" fd
    shift 2
    if [[ -z "$_AHEAD_DIR" ]]; then
        _AHEAD_DIR="$(mktemp -d)"
        at_exit "rm -rf $(printf '%q' "$_AHEAD_DIR")"
    fi
    # The script may exit before an answer is in (a check failed), and its
    # exit removes _AHEAD_DIR: this subshell then has nowhere to write, and
    # must say nothing about it.
    exec {fd}< <(
        exec 2>/dev/null
        status=0
        "$@" 2>"$_AHEAD_DIR/$name.err" || status=$?
        printf '%s' "$status" >"$_AHEAD_DIR/$name.status"
    )
    _AHEAD_FD[$name]="$fd"
    _AHEAD_KEY[$name]="$key"
}

# compose config through the Compose command given, in this subshell.
# Without the fast overlay's -f (the path is not chosen yet): it changes
# healthchecks only, which the model does not read.
_resolved_config_by() {
    COMPOSE=("$@")
    resolved_config
}

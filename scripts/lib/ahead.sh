# shellcheck shell=bash
# Asking ahead: a question (a command) sent in the background now, and its
# answer taken later by whoever would have asked it, or asked afresh when
# nobody asked ahead, or asked another Compose. Which questions start.sh
# sends is ask_ahead's business (lib/services.sh); the functions that take
# the answers call `answer`. Sourced, never run.

declare -A _AHEAD_FD=() _AHEAD_KEY=() _AHEAD_KEPT=() _AHEAD_KEPT_STATUS=()
# Where each question writes its errors and status: a name of its own per
# question sent, so one forgotten and asked again cannot mix in its answers.
declare -A _AHEAD_FILE=()
_AHEAD_ASKED=0
_AHEAD_DIR=""
_AHEAD_PIDS=()

# The answer to the question NAME if it was asked ahead with KEY (the
# Compose command it went to): its output, its errors on stderr, its
# status. Otherwise runs COMMAND now. Each answer can be taken once.
# Usage: answer NAME KEY COMMAND...
answer() {
    local name="$1" key="$2"
    shift 2
    # Taken already by answer_into, in this shell: the same answer again.
    if [[ -n "${_AHEAD_KEPT_STATUS[$name]:-}" && "${_AHEAD_KEY[$name]}" == "$key" ]]; then
        printf '%s' "${_AHEAD_KEPT[$name]}"
        _ahead_errors "$name"
        return "${_AHEAD_KEPT_STATUS[$name]}"
    fi
    if [[ -z "${_AHEAD_FD[$name]:-}" || "${_AHEAD_KEY[$name]}" != "$key" ]]; then
        "$@"
        return
    fi
    # The pipe ends when the question's subshell has written its status.
    # (cat: bash reads a pipe a byte at a time, and the configuration is
    # kilobytes.)
    cat <&"${_AHEAD_FD[$name]}"
    _ahead_errors "$name"
    return "$(_ahead_status "$name")"
}

# The exit status of the question NAME (1 when it wrote none: killed). The
# file has no newline, so read "fails" at its end, having read it.
_ahead_status() {
    local status=""
    read -r status <"${_AHEAD_FILE[$1]}.status" 2>/dev/null || true
    [[ "$status" =~ ^[0-9]+$ ]] || status=1
    printf '%s' "$status"
}

# What the question NAME wrote on stderr, to stderr.
_ahead_errors() {
    local errors
    [[ -s "${_AHEAD_FILE[$1]}.err" ]] || return 0
    IFS= read -r -d '' errors <"${_AHEAD_FILE[$1]}.err" || true
    printf '%s' "$errors" >&2
}

# The answer to the question NAME asked ahead with KEY, into the variable
# VAR of this shell (no subshell), its errors left for a later `answer`,
# which gets the same answer again, as does a later answer_into: a quiet
# look (start.sh's at a healthy stack) takes it without costing the check
# that follows a second question, and one look serves several checks.
# Returns its status; 1 when it was not asked ahead with KEY.
# Usage: answer_into VAR NAME KEY
answer_into() {
    local -n _answer="$1"
    local name="$2" key="$3" fd status=1
    _answer=""
    [[ "${_AHEAD_KEY[$name]:-}" == "$key" ]] || return 1
    # Taken already: the same answer again.
    if [[ -n "${_AHEAD_KEPT_STATUS[$name]:-}" ]]; then
        _answer="${_AHEAD_KEPT[$name]}"
        return "${_AHEAD_KEPT_STATUS[$name]}"
    fi
    [[ -n "${_AHEAD_FD[$name]:-}" ]] || return 1
    fd="${_AHEAD_FD[$name]}"
    IFS= read -r -d '' _answer <&"$fd" || true
    # As $(...) would have it: without its last newlines.
    while [[ "$_answer" == *$'\n' ]]; do _answer="${_answer%$'\n'}"; done
    exec {fd}<&-
    unset '_AHEAD_FD[$name]'
    status="$(_ahead_status "$name")"
    _AHEAD_KEPT[$name]="$_answer"
    _AHEAD_KEPT_STATUS[$name]="$status"
    return "$status"
}

# Runs COMMAND in the background; its output waits in a pipe, its errors
# and status in _AHEAD_DIR. A question already asked with KEY is not asked
# again.
# Usage: _ask NAME KEY COMMAND...
_ask() {
    local name="$1" key="$2" fd file
    shift 2
    if [[ "${_AHEAD_KEY[$name]:-}" == "$key" && -n "${_AHEAD_FD[$name]:-}${_AHEAD_KEPT_STATUS[$name]:-}" ]]; then
        return 0
    fi
    # Asked before with another key: that answer is not taken.
    forget_answer "$name"
    if [[ -z "$_AHEAD_DIR" ]]; then
        _AHEAD_DIR="$(mktemp -d)"
        at_exit _forget_answers
    fi
    _AHEAD_ASKED=$((_AHEAD_ASKED + 1))
    file="$_AHEAD_DIR/$name.$_AHEAD_ASKED"
    # The script may exit before an answer is in (a check failed), and its
    # exit removes _AHEAD_DIR: this subshell then has nowhere to write, and
    # must say nothing about it.
    exec {fd}< <(
        exec 2>/dev/null
        status=0
        "$@" 2>"$file.err" || status=$?
        printf '%s' "$status" >"$file.status"
    )
    _AHEAD_PIDS+=("$!")
    _AHEAD_FD[$name]="$fd"
    _AHEAD_KEY[$name]="$key"
    _AHEAD_FILE[$name]="$file"
}

# Whether the question NAME was asked ahead with KEY (answered or not).
# Usage: asked_ahead NAME KEY
asked_ahead() {
    [[ "${_AHEAD_KEY[$1]:-}" == "$2" ]]
}

# Forgets the question NAME: its answer is not taken, and a later `answer`
# asks afresh. (It still runs, until the script exits.)
# Usage: forget_answer NAME
forget_answer() {
    local name="$1" fd="${_AHEAD_FD[$1]:-}"
    [[ -z "$fd" ]] || exec {fd}<&-
    unset '_AHEAD_FD[$name]' '_AHEAD_KEY[$name]' '_AHEAD_KEPT[$name]' '_AHEAD_KEPT_STATUS[$name]' \
        '_AHEAD_FILE[$name]'
}

# At exit: a question still running would write its status into
# _AHEAD_DIR while rm removes it ("Directory not empty" on the user's
# screen), so it is ended first, and a file it wrote meanwhile goes too.
_forget_answers() {
    kill "${_AHEAD_PIDS[@]}" 2>/dev/null || true
    rm -rf "$_AHEAD_DIR" 2>/dev/null || rm -rf "$_AHEAD_DIR" 2>/dev/null || true
}

# shellcheck shell=bash
# Shared by every script in ./scripts: strict mode, messages, exit codes,
# argument parsing and the repository's location. Sourced, never run.
#
# Exit codes (the same for every script):
#   0    success
#   1    failure: the stack, Docker or the environment is not as it must be
#   2    usage: an unknown option or service, a bad value; nothing was run
#   130  interrupted (Ctrl-C)
#   143  terminated (SIGTERM, e.g. kill PID)

set -Eeuo pipefail

readonly EXIT_FAILURE=1
readonly EXIT_USAGE=2
readonly EXIT_INTERRUPTED=130
readonly EXIT_TERMINATED=143
# How a subshell (a `$(...)`, a pipeline's part) tells its parent that it has
# already printed its error: the parent then exits quietly with the public
# code instead of reporting the same failure again. Never seen by users.
readonly _REPORTED_FAILURE=201
readonly _REPORTED_USAGE=202

# --- Where we are -----------------------------------------------------------

# The repository root. Each script sources this library through its real
# path (symlinks resolved), so a symlink to a script works from anywhere.
REPO_ROOT="$(cd -P "${BASH_SOURCE[0]%/*}/../.." && pwd)"
# shellcheck disable=SC2034 # used by the scripts and the rest of the library
readonly REPO_ROOT
SCRIPT_NAME="${0##*/}"
readonly SCRIPT_NAME

# --- Messages -----------------------------------------------------------------

# Colour only for a person at a terminal, and never when NO_COLOR is set
# (https://no-color.org). Decided once, here: inside `$(...)` stdout is a
# pipe, so asking later would never find the terminal (and neither would
# asking here inside one).
_COLOUR_1=false
_COLOUR_2=false
if [[ -z "${NO_COLOR:-}" ]]; then
    [[ ! -t 1 ]] || _COLOUR_1=true
    [[ ! -t 2 ]] || _COLOUR_2=true
fi
readonly _COLOUR_1 _COLOUR_2

_paint() { # code fd text...
    local code="$1" colour="_COLOUR_$2"
    shift 2
    if ${!colour:-false}; then
        printf '\033[%sm%s\033[0m' "$code" "$*"
    else
        printf '%s' "$*"
    fi
}

# The same into the variable VAR, without a subshell: a signal's handler
# prints its last line with it (see _stop_on_signal).
_paint_to() { # var code fd text...
    local -n _painted="$1"
    local code="$2" colour="_COLOUR_$3"
    shift 3
    if ${!colour:-false}; then
        printf -v _painted '\033[%sm%s\033[0m' "$code" "$*"
    else
        _painted="$*"
    fi
}

info() { printf '%s\n' "$*"; }
step() { local mark; _paint_to mark 1 1 '==>'; printf '%s %s\n' "$mark" "$*"; }
ok() { local mark; _paint_to mark 32 1 'ok'; printf '%s %s\n' "$mark" "$*"; }
warn() { local mark; _paint_to mark 33 2 'warning:'; printf '%s %s\n' "$mark" "$*" >&2; }
error() { local mark; _paint_to mark 31 2 'error:'; printf '%s %s\n' "$mark" "$*" >&2; }

_in_subshell() {
    [[ "$BASHPID" != "$$" ]]
}

# Prints the error and exits 1; in a subshell the parent exits 1 too,
# without a second message.
die() {
    error "$@"
    if _in_subshell; then exit "$_REPORTED_FAILURE"; fi
    exit "$EXIT_FAILURE"
}

# A usage error: one line naming the problem and what is valid, then exit 2.
usage_error() {
    error "$* (see $SCRIPT_NAME --help)"
    if _in_subshell; then exit "$_REPORTED_USAGE"; fi
    exit "$EXIT_USAGE"
}

# Any command that fails unexpectedly under `set -e` lands here, so the user
# learns which line broke instead of seeing the script stop in silence. Only
# the script's own shell reports: a subshell passes its status up, and the
# parent reports (once) unless the failure was already explained.
_on_error() {
    local status="$1" line="$2" command="$3"
    if _in_subshell; then exit "$status"; fi
    case "$status" in
        "$_REPORTED_FAILURE") exit "$EXIT_FAILURE" ;;
        "$_REPORTED_USAGE") exit "$EXIT_USAGE" ;;
        "$EXIT_INTERRUPTED" | "$EXIT_TERMINATED") exit "$status" ;;
    esac
    error "$SCRIPT_NAME: internal error at line $line (exit $status): $command"
    exit "$status"
}
trap '_on_error "$?" "$LINENO" "$BASH_COMMAND"' ERR

# Ctrl-C: say so once and stop, rather than reporting whatever the
# interrupted command did as a failure of its own. What the script runs in
# the background (Compose's `up`, the engine's event stream) is ended first,
# so nothing of it prints after this line or outlives the script.
_on_interrupt() {
    _defer_signal INT || return 0
    trap - INT
    _stop_on_signal "interrupted" "$EXIT_INTERRUPTED"
}
trap _on_interrupt INT

# SIGTERM (kill PID, a supervisor stopping us): the same, exit 143. Without
# this bash would die at once, leaving its background work running.
_on_terminate() {
    _defer_signal TERM || return 0
    trap - TERM
    _stop_on_signal "terminated" "$EXIT_TERMINATED"
}
trap _on_terminate TERM

# A wait that sleeps in `read -t` (wait_until_healthy) takes its signals at
# its next look, within a tenth of a second, by handle_pending_signal: bash
# runs a handler inside the interrupted read, and the read's timer, running
# out meanwhile, would cut the handler short and resume the wait.
_DEFER_SIGNALS=false
_PENDING_SIGNAL=""
_defer_signal() { # SIGNAL; returns 1 when deferred
    if $_DEFER_SIGNALS && ! _in_subshell; then
        _PENDING_SIGNAL="$1"
        return 1
    fi
}

# Usage: defer_signals true|false
defer_signals() {
    _DEFER_SIGNALS="$1"
    "$1" || handle_pending_signal
}

handle_pending_signal() {
    case "$_PENDING_SIGNAL" in
        INT) _DEFER_SIGNALS=false; _on_interrupt ;;
        TERM) _DEFER_SIGNALS=false; _on_terminate ;;
    esac
}

# While a signal's handler runs the exit hooks, STOPPED_BY says which
# ("interrupted", "terminated"): a hook that undoes the work (a rollback)
# says so in its own one line and sets SIGNAL_EXPLAINED=true, as "nothing
# more was done" would then be wrong.
STOPPED_BY=""
SIGNAL_EXPLAINED=false

# No command substitution here, nor in the exit hooks: in a subshell's
# child they would not see this shell's state.
_stop_on_signal() {
    local what="$1" status="$2"
    if ! _in_subshell; then
        trap '' INT TERM
        printf '\n' >&2
        # shellcheck disable=SC2034 # read by the exit hooks
        STOPPED_BY="$what"
        _run_exit_hooks
        "$SIGNAL_EXPLAINED" ||
            error "$what; nothing more was done (run ./scripts/$SCRIPT_NAME again to finish)"
    fi
    exit "$status"
}

# --- Arguments ------------------------------------------------------------------

# Rewrites "--option=value" into "--option" "value" for the options that take
# a value, so every option works in both forms. A flag given a value is a
# usage error. Usage: split_option_values RESULT "VALUE OPTIONS" "FLAGS" ARG...
split_option_values() {
    local -n _split_result="$1"
    local with_value=" $2 " flags=" $3 " arg name
    shift 3
    _split_result=()
    for arg in "$@"; do
        if [[ "$arg" == --*=* ]]; then
            name="${arg%%=*}"
            if [[ "$with_value" == *" $name "* ]]; then
                _split_result+=("$name" "${arg#*=}")
                continue
            elif [[ "$flags" == *" $name "* ]]; then
                usage_error "$name takes no value"
            fi
        fi
        _split_result+=("$arg")
    done
}

# Usage: unknown_option OPTION "VALID OPTIONS"
unknown_option() {
    usage_error "unknown option '$(printable "$1")'; valid options: $2"
}

# For a command that takes no arguments: -h/--help shows its help, any
# other argument is refused. Usage: parse_no_arguments "$@"
parse_no_arguments() {
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            -*) unknown_option "$1" "-h --help" ;;
            *) usage_error "unexpected argument '$(printable "$1")'; $SCRIPT_NAME takes no arguments" ;;
        esac
    done
}

# Exits 2 unless an option that takes a value has one. A negative number
# ("--timeout -5") is a value, a wrong one, for the option's own check to
# name: no option of these scripts starts with a digit.
# Usage, inside an argument loop: need_value "$@"; VALUE="$2"; shift 2
need_value() {
    if [[ $# -lt 2 || -z "$2" || ("$2" == -* && ! "$2" =~ ^-[0-9]) ]]; then
        usage_error "$1 needs a value"
    fi
}

# A positive whole number of seconds, or exit 2.
require_seconds() {
    local option="$1" value="$2"
    # 10#: a leading zero means decimal here, not octal.
    if [[ ! "$value" =~ ^[0-9]{1,6}$ ]] || ((10#$value == 0)); then
        usage_error "$option takes a whole number of seconds greater than 0, not '$(printable "$value")'"
    fi
}

# Shows an argument in a message without letting control characters through.
# Multi-byte characters of the user's locale (a folder named "Données") are
# printable and stay as they are.
printable() {
    printf '%s' "${1//[[:cntrl:]]/?}"
}

# Asks before destroying data, unless ASSUME_YES is true (from -y/--yes);
# without a terminal to ask on, that flag is required (exit 2).
# Usage: confirm_destruction ASSUME_YES "delete this data" "nothing was deleted"
confirm_destruction() {
    local assume_yes="$1" action="$2" unchanged="$3" answer
    ! "$assume_yes" || return 0
    [[ -t 0 ]] ||
        usage_error "refusing to $action without a terminal to confirm on; add --yes to confirm in a script"
    read -r -p "Type 'yes' to $action: " answer || true
    [[ "$answer" == yes ]] || die "not confirmed; $unchanged"
}

# Prints the text of a here-document given on stdin; used for --help.
print_usage() {
    cat
}

# Joins its arguments with ", ".
join_by_comma() {
    local IFS=','
    local joined="$*"
    printf '%s' "${joined//,/, }"
}

# "postgres, redis", or "the stack" when no service is named.
described() {
    if (($# > 0)); then join_by_comma "$@"; else printf 'the stack'; fi
}

# A string made safe to put between double quotes in JSON.
json_escape() {
    local text="$1"
    text="${text//\\/\\\\}"
    text="${text//\"/\\\"}"
    text="${text//$'\t'/\\t}"
    text="${text//$'\r'/\\r}"
    text="${text//$'\n'/\\n}"
    printf '%s' "$text" | LC_ALL=C tr -d '\000-\010\013\014\016-\037'
}

# RFC 3986 percent-encoding: every byte but the unreserved characters.
urlencode() {
    local LC_ALL=C text="$1" i char
    for ((i = 0; i < ${#text}; i++)); do
        char="${text:i:1}"
        case "$char" in
            [A-Za-z0-9._~-]) printf '%s' "$char" ;;
            *) printf '%%%02X' "'$char" ;;
        esac
    done
}

# PATH with every symlink along the way followed to the file it names
# (readlink -f is missing on macOS before 12.3).
resolve_symlinks() {
    local path="$1" link
    while [[ -L "$path" ]]; do
        link="$(readlink "$path")"
        [[ "$link" == /* ]] || link="$(dirname -- "$path")/$link"
        path="$link"
    done
    printf '%s' "$path"
}

# --- Clean-up at exit ---------------------------------------------------------

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

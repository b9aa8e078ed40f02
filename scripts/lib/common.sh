# shellcheck shell=bash
# Shared by every script in ./scripts: strict mode, messages, exit codes,
# argument parsing and the repository's location. Sourced, never run.
#
# Exit codes (the same for every script):
#   0  success
#   1  failure: the stack, Docker or the environment is not as it must be
#   2  usage: an unknown option or service, a bad value; nothing was run

set -Eeuo pipefail

# Empty arrays under `set -u`, negative indexes and `wait -n` need bash 4.4.
if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
    echo "error: these scripts need bash 4.4 or newer, this is $BASH_VERSION (on macOS: brew install bash)" >&2
    exit 1
fi

readonly EXIT_FAILURE=1
readonly EXIT_USAGE=2

# --- Where we are -----------------------------------------------------------

# The repository root. Each script sources this library through its real
# path (readlink -f), so symlinks to a script work from anywhere.
REPO_ROOT="$(cd -P "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
readonly COMPOSE_YML="$REPO_ROOT/docker-compose.yml"
SCRIPT_NAME="$(basename -- "$0")"
readonly SCRIPT_NAME

# --- Messages -----------------------------------------------------------------

# Colour only for a person at a terminal, and never when NO_COLOR is set
# (https://no-color.org).
_use_colour() {
    [[ -z "${NO_COLOR:-}" && -t "${1:-2}" ]]
}

_paint() { # code fd text...
    local code="$1" fd="$2"
    shift 2
    if _use_colour "$fd"; then
        printf '\033[%sm%s\033[0m' "$code" "$*"
    else
        printf '%s' "$*"
    fi
}

info() { printf '%s\n' "$*"; }
step() { printf '%s %s\n' "$(_paint 1 1 '==>')" "$*"; }
ok() { printf '%s %s\n' "$(_paint 32 1 'ok')" "$*"; }
warn() { printf '%s %s\n' "$(_paint 33 2 'warning:')" "$*" >&2; }
error() { printf '%s %s\n' "$(_paint 31 2 'error:')" "$*" >&2; }

die() { # message... ; exits 1
    error "$@"
    exit "$EXIT_FAILURE"
}

# A usage error: one line naming the problem and what is valid, then exit 2.
usage_error() {
    error "$* (see $SCRIPT_NAME --help)"
    exit "$EXIT_USAGE"
}

# Any command that fails unexpectedly under `set -e` lands here, so the user
# learns which line broke instead of seeing the script stop in silence.
_on_error() {
    local status="$1" line="$2" command="$3"
    error "$SCRIPT_NAME: internal error at line $line (exit $status): $command"
    exit "$status"
}
trap '_on_error "$?" "$LINENO" "$BASH_COMMAND"' ERR

# --- Arguments ------------------------------------------------------------------

# The services of docker-compose.yml, read from the file itself so a name is
# checked before anything reaches Docker (and without needing .env.infra).
known_services() {
    awk '
        /^services:[[:space:]]*$/ { in_services = 1; next }
        /^[^[:space:]#]/          { in_services = 0 }
        in_services && /^  [A-Za-z0-9][A-Za-z0-9_.-]*:[[:space:]]*$/ {
            name = $1; sub(/:$/, "", name); print name
        }
    ' "$COMPOSE_YML"
}

# Appends NAME to the global SERVICES array, or exits 2 if it is not a
# service of the compose file.
SERVICES=()
add_service() {
    local name="$1" known
    while IFS= read -r known; do
        if [[ "$name" == "$known" ]]; then
            SERVICES+=("$name")
            return 0
        fi
    done < <(known_services)
    usage_error "unknown service '$(printable "$name")'; valid services: $(known_services | paste -sd ' ' -)"
}

# Usage: unknown_option OPTION "VALID OPTIONS"
unknown_option() {
    usage_error "unknown option '$(printable "$1")'; valid options: $2"
}

# Exits 2 unless an option that takes a value has one.
# Usage, inside an argument loop: need_value "$@"; VALUE="$2"; shift 2
need_value() {
    if [[ $# -lt 2 || -z "$2" || "$2" == -* ]]; then
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
printable() {
    printf '%s' "$1" | LC_ALL=C tr -c '[:print:]' '?'
}

# Asks before destroying data. ASSUME_YES=true (from -y/--yes) skips the
# question; without a terminal to ask on, that flag is required (exit 2).
# Usage: confirm_destruction "delete this data" "nothing was deleted"
ASSUME_YES=false
confirm_destruction() {
    local action="$1" unchanged="$2" answer
    $ASSUME_YES && return 0
    [[ -t 0 ]] ||
        usage_error "refusing to $action without a terminal to confirm on; add --yes to confirm in a script"
    read -r -p "Type 'yes' to $action: " answer || true
    [[ "$answer" == yes ]] || die "not confirmed; $unchanged"
}

# Parses "[SERVICE...]" and -h/--help, for scripts with no other option.
parse_services() {
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            -*) unknown_option "$1" "-h --help" ;;
            *) add_service "$1"; shift ;;
        esac
    done
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

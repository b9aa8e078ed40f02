#!/usr/bin/env bash
# Shows the logs of the stack (or the named services), optionally following.
# shellcheck source=scripts/lib/all.sh
source "$(dirname -- "$(readlink -f -- "$0")")/lib/all.sh"

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...] [-f|--follow] [--tail N] [--since DURATION]

Prints the logs of the named services, or of the whole stack
($(known_services | paste -sd ' ' -)). Secrets from .env.infra are masked.

Options:
  -f, --follow         keep printing new lines until Ctrl-C (exits 0)
  --tail N             only the last N lines of each service (default: all)
  --since DURATION     only lines newer than DURATION (e.g. 10m, 2h) or a
                       timestamp (e.g. 2026-01-02T15:04:05)
  -h, --help           show this help

Exit status: 0 success, 1 failed, 2 usage error.
EOF
}

FOLLOW=false
TAIL=""
SINCE=""

VALID_OPTIONS="-f --follow --tail --since -h --help"

parse_args() {
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            -f | --follow) FOLLOW=true; shift ;;
            --tail)
                need_value "$@"
                [[ "$2" =~ ^[0-9]+$ ]] || usage_error "--tail takes a whole number of lines, not '$(printable "$2")'"
                TAIL="$2"; shift 2 ;;
            --since)
                need_value "$@"
                [[ "$2" =~ ^([0-9]+[smh])+$|^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+Z?)?$ ]] ||
                    usage_error "--since takes a duration such as 10m or 2h, or a timestamp such as 2026-01-02T15:04:05, not '$(printable "$2")'"
                SINCE="$2"; shift 2 ;;
            -*) unknown_option "$1" "$VALID_OPTIONS" ;;
            *) add_service "$1"; shift ;;
        esac
    done
}

main() {
    local args=(logs)
    parse_args "$@"
    load_env_if_present
    require_docker
    $FOLLOW && args+=(--follow)
    [[ -z "$TAIL" ]] || args+=(--tail "$TAIL")
    if [[ -n "$SINCE" ]]; then
        compose_is_v1 && usage_error "--since needs Compose v2; this is Compose $COMPOSE_VERSION"
        args+=(--since "$SINCE")
    fi
    # Ctrl-C ends a follow: that is how the user says "done", not a failure.
    trap 'exit 0' INT
    compose "${args[@]}" "${SERVICES[@]}" 2>&1 | redact_secrets
}

main "$@"

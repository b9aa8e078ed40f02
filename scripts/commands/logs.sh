# shellcheck shell=bash
# Shows the logs of the stack (or the named services), optionally following.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...] [-f|--follow] [--tail N] [--since DURATION]

Prints the logs of the named services, or of the whole stack
(${BUILTIN_SERVICES[*]}, and the services of your override files).
Secrets from .env.infra are masked.

Options:
  -f, --follow         keep printing new lines until Ctrl-C (exits 0)
  --tail N             only the last N lines of each service (default: all)
  --since DURATION     only lines newer than DURATION (e.g. 10m, 2h) or a
                       timestamp (e.g. 2026-01-02T15:04:05); needs Compose v2
  -h, --help           show this help
Options that take a value also take it as --tail=N.

Exit status: 0 success, 1 failed, 2 usage error.
EOF
}

main() {
    local follow=false tail="" since=""
    local -a services=() args compose_args=(logs)
    split_option_values args "--tail --since" "--follow --help" "$@"
    set -- "${args[@]}"
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            -f | --follow) follow=true; shift ;;
            --tail)
                need_value "$@"
                [[ "$2" =~ ^[0-9]+$ ]] || usage_error "--tail takes a whole number of lines, not '$(printable "$2")'"
                tail="$2"; shift 2 ;;
            --since)
                need_value "$@"
                [[ "$2" =~ ^([0-9]+[smh])+$|^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+Z?)?$ ]] ||
                    usage_error "--since takes a duration such as 10m or 2h, or a timestamp such as 2026-01-02T15:04:05, not '$(printable "$2")'"
                since="$2"; shift 2 ;;
            -*) unknown_option "$1" "-f --follow --tail --since -h --help" ;;
            *) require_service_syntax "$1"; services+=("$1"); shift ;;
        esac
    done
    # A usage error, so before anything else runs.
    if [[ -n "$since" ]]; then
        detect_compose
        ! compose_is_v1 || usage_error "--since needs Compose v2; this is Compose $COMPOSE_VERSION"
    fi
    needs env-if-present compose own-stack -- "${services[@]}"
    # Our pipe through the secret filter would make Compose guess: colour
    # exactly when this script's own output is a terminal without NO_COLOR.
    if ! $_COLOUR_1; then
        compose_args+=(--no-color)
    elif ! compose_is_v1; then
        compose_args=(--ansi always logs)
    fi
    ! $follow || compose_args+=(--follow)
    [[ -z "$tail" ]] || compose_args+=(--tail "$tail")
    [[ -z "$since" ]] || compose_args+=(--since "$since")
    # Ctrl-C ends a follow: that is how the user says "done", not a failure.
    trap 'exit 0' INT
    compose_or_die "docker compose logs failed (see above)" "${compose_args[@]}" "${services[@]}"
}

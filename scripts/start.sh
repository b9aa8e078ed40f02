#!/usr/bin/env bash
# Starts the stack (or the named services) and waits until it is healthy.
# shellcheck source=scripts/lib/all.sh
source "$(dirname -- "$(readlink -f -- "$0")")/lib/all.sh"

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...] [--no-wait] [--timeout SECONDS]

Starts the named services with their dependencies, or the whole stack
($(known_services | paste -sd ' ' -)), then waits until each is healthy.
On a first run it creates .env.infra with generated secrets.

Before starting it checks Docker, Compose, .env.infra and that every
published port is free. Running it again on a healthy stack is harmless.

Options:
  --no-wait            start and return without waiting for health
  --timeout SECONDS    how long to wait for health (default: 300, enough for
                       Langfuse's first-start migrations)
  -h, --help           show this help

Environment: variables exported in your shell override .env.infra, e.g.
  POSTGRES_PORT=5433 $SCRIPT_NAME
COMPOSE_PROJECT_NAME (default: transbot), COMPOSE_FILE and a
docker-compose.override.yml work as they do for Compose.

Exit status: 0 healthy, 1 failed (details printed), 2 usage error.
EOF
}

WAIT=true
TIMEOUT=300

VALID_OPTIONS="--no-wait --timeout -h --help"

parse_args() {
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            --no-wait) WAIT=false; shift ;;
            --timeout) need_value "$@"; require_seconds "$1" "$2"; TIMEOUT="$2"; shift 2 ;;
            -*) unknown_option "$1" "$VALID_OPTIONS" ;;
            *) add_service "$1"; shift ;;
        esac
    done
}

main() {
    parse_args "$@"
    prepare_env
    require_docker
    check_can_start
    start_services
    if ! $WAIT; then
        ok "started (not waiting for health; check with ./scripts/health-check.sh --wait)"
        return 0
    fi
    wait_and_report "$TIMEOUT"
}

main "$@"

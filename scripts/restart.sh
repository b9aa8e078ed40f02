#!/usr/bin/env bash
# Restarts the stack (or the named services) and waits until it is healthy.
# shellcheck source=scripts/lib/all.sh
source "$(dirname -- "$(readlink -f -- "$0")")/lib/all.sh"

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...] [--no-wait] [--timeout SECONDS]

Stops and starts the named services, or the whole stack
($(known_services | paste -sd ' ' -)), then waits until each is healthy.
A container whose settings changed in .env.infra or the compose file is
recreated with the new ones. Data in ./volumes is kept.

Options:
  --no-wait            return without waiting for health
  --timeout SECONDS    how long to wait for health (default: 300)
  -h, --help           show this help

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
    # Refuse before stopping anything: a busy port or a read-only volumes/ must
    # not leave the stack down.
    check_can_start
    step "Stopping $(if ((${#SERVICES[@]} > 0)); then join_by_comma "${SERVICES[@]}"; else printf 'the stack'; fi)..."
    compose stop "${SERVICES[@]}" 2>&1 | redact_secrets
    start_services
    if ! $WAIT; then
        ok "restarted (not waiting for health; check with ./scripts/health-check.sh --wait)"
        return 0
    fi
    wait_and_report "$TIMEOUT"
}

main "$@"

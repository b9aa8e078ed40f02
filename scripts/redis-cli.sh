#!/usr/bin/env bash
# Opens redis-cli, authenticated, inside the redis container.
# shellcheck source=scripts/lib/all.sh
source "$(dirname -- "$(readlink -f -- "$0")")/lib/all.sh"

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [REDIS-CLI ARGUMENTS...]

Opens redis-cli inside the running redis container, authenticated with
REDIS_PASSWORD from .env.infra. Every argument goes to redis-cli, e.g.
  $SCRIPT_NAME ping
  $SCRIPT_NAME --scan --pattern 'session:*'
The password travels in the REDISCLI_AUTH environment variable: it is not
on any command line, and redis-cli prints no warning about it.

Options:
  -h, --help   show this help

Exit status: redis-cli's, or 1 when redis is not running.
EOF
}

main() {
    local container flags
    case "${1:-}" in
        -h | --help) usage; exit 0 ;;
        --) shift ;;
    esac
    require_env
    require_docker
    container="$(running_container_of redis)"
    mapfile -t flags < <(exec_tty_flags)
    REDISCLI_AUTH="$REDIS_PASSWORD" exec docker exec "${flags[@]}" -e REDISCLI_AUTH "$container" redis-cli "$@"
}

main "$@"

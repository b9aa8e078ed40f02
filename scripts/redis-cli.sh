#!/usr/bin/env bash
# Opens redis-cli, authenticated, inside the redis container.
# The library, found through symlinks without readlink -f (macOS < 12.3 has none),
# in POSIX sh up to the library's bash check: `sh script` is told to use bash.
_self="$0"; while [ -L "$_self" ]; do _link="$(readlink "$_self")"; case "$_link" in /*) ;; *) _link="$(dirname -- "$_self")/$_link" ;; esac; _self="$_link"; done
# shellcheck source=scripts/lib/all.sh
. "$(dirname -- "$_self")/lib/all.sh"

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
    case "${1:-}" in
        -h | --help) usage; exit 0 ;;
        --) shift ;;
    esac
    require_env
    require_engine
    require_own_stack
    service_hook redis client "$@"
}

main "$@"

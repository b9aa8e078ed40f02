#!/usr/bin/env bash
# Opens psql on the TransBot database inside the postgres container.
# The library, found through symlinks without readlink -f (macOS < 12.3 has none),
# in POSIX sh up to the library's bash check: `sh script` is told to use bash.
_self="$0"; while [ -L "$_self" ]; do _link="$(readlink "$_self")"; case "$_link" in /*) ;; *) _link="$(dirname -- "$_self")/$_link" ;; esac; _self="$_link"; done
# shellcheck source=scripts/lib/all.sh
. "$(dirname -- "$_self")/lib/all.sh"

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [PSQL ARGUMENTS...]

Opens psql as POSTGRES_USER on POSTGRES_DB (the TransBot database) inside
the running postgres container. Every argument goes to psql, e.g.
  $SCRIPT_NAME -c 'SELECT count(*) FROM transbot.translations'
  $SCRIPT_NAME -d langfuse
  $SCRIPT_NAME < query.sql
No password is typed or shown: inside its container psql connects over the
Unix socket, which the image trusts.

Options:
  -h, --help   show this help (use -- --help for psql's own help)

Exit status: psql's, or 1 when postgres is not running.
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
    service_hook postgres client "$@"
}

main "$@"

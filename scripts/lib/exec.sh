# shellcheck shell=bash
# A service's running container, and a command run in it for a person
# (psql.sh, redis-cli.sh). Loaded after engine.sh, which finds the
# container and its state. Sourced, never run.

# The id of SERVICE's running container, or exit 1 saying how to start it.
running_container_of() {
    local container
    container="$(container_of "$1")"
    if [[ -z "$container" || "$(container_status "$container")" != running* ]]; then
        die "$1 is not running; start it with ./scripts/start.sh $1"
    fi
    printf '%s' "$container"
}

# Replaces this process with COMMAND in SERVICE's running container, for a
# person to type into: -i always (so input can be piped in), -t only when
# both ends are a terminal. Variables named before -- are passed through
# from this environment (docker exec -e NAME), never on a command line.
# Usage: exec_in_service SERVICE [VARIABLE...] -- COMMAND...
exec_in_service() {
    local service="$1" container flags=(-i)
    shift
    while (($# > 0)) && [[ "$1" != -- ]]; do
        flags+=(-e "$1")
        shift
    done
    shift
    [[ -t 0 && -t 1 ]] && flags+=(-t)
    container="$(running_container_of "$service")"
    exec docker exec "${flags[@]}" "$container" "$@"
}

#!/usr/bin/env bash
# Stops the stack (or the named services). Never deletes data.
# The library, found through symlinks without readlink -f (macOS < 12.3 has none),
# in POSIX sh up to the library's bash check: `sh script` is told to use bash.
_self="$0"; while [ -L "$_self" ]; do _link="$(readlink "$_self")"; case "$_link" in /*) ;; *) _link="$(dirname -- "$_self")/$_link" ;; esac; _self="$_link"; done
# shellcheck source=scripts/lib/all.sh
. "$(dirname -- "$_self")/lib/all.sh"

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...]

Stops the named services, or the whole stack (${BUILTIN_SERVICES[*]},
and the services of your override files). With no service named,
containers and the network are removed. Data in ./volumes is always
kept: ./scripts/start.sh picks up where you left off.

Options:
  -h, --help   show this help

Exit status: 0 stopped, 1 failed, 2 usage error, 130 interrupted.
EOF
}

# A service that keeps running while what it depends on stops (Langfuse
# without postgres) fails every request: say so rather than let it look
# like a bug of its own.
warn_about_dependents() {
    local model="$1" service dependent
    shift
    for service in "$@"; do
        while IFS= read -r dependent; do
            [[ -n "$dependent" ]] || continue
            grep -qxF -- "$dependent" < <(printf '%s\n' "$@") && continue
            [[ "$(container_status "$(container_of "$dependent")")" == running* ]] || continue
            warn "$dependent keeps running but cannot work until $service is started again (./scripts/start.sh $service)"
        done < <(model_dependents "$model" "$service")
    done
}

main() {
    local model
    local -a services
    parse_services services "$@"
    load_env_if_present
    require_docker
    if ((${#services[@]} > 0)); then
        model="$(compose_model)"
        require_known_services "$(model_services "$model")" "${services[@]}"
    fi
    take_stack_lock
    require_own_stack
    if ((${#services[@]} == 0)); then
        step "Stopping the stack (project $(project_name)); data in ./volumes is kept..."
        compose_or_die "docker compose down failed (see above); the stack may be partly stopped: run ./scripts/stop.sh again" down
    else
        warn_about_dependents "$model" "${services[@]}"
        step "Stopping $(join_by_comma "${services[@]}"); data is kept..."
        compose_or_die "docker compose stop failed (see above); run ./scripts/stop.sh $* again" stop "${services[@]}"
    fi
    ok "stopped"
}

main "$@"

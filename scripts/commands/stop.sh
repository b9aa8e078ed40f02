# shellcheck shell=bash
# Stops the stack (or the named services). Never deletes data.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...]

Stops the named services, or the whole stack (${BUILTIN_SERVICES[*]},
and the services of your override files). With no service named,
containers and the network are removed, also the containers of services
no longer in your configuration. Data in ./volumes is always kept:
./scripts/start.sh picks up where you left off.

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

# `down --remove-orphans`: the containers of services no longer in the
# configuration (removed from an override file) go too. Without it Compose
# v1 and older v2 leave them running, on the network they then cannot
# remove. Their volumes are kept, as every service's are.
# Usage: take_down MODEL LISTING   (LISTING: project_containers)
take_down() {
    local model="$1" down_status=0 left orphan
    local -a orphans removed=()
    mapfile -t orphans < <(orphan_services "$2" "$(model_services "$model")")
    step "Stopping the stack (project $(project_name)); data in ./volumes is kept..."
    compose down --remove-orphans 2>&1 | redact_secrets || down_status=$?
    left="$(project_containers)"
    for orphan in "${orphans[@]}"; do
        project_services "$left" | grep -qxF -- "$orphan" || removed+=("$orphan")
    done
    ((${#removed[@]} == 0)) ||
        info "removed the containers of $(join_by_comma "${removed[@]}"), no longer in the configuration (their volumes and bind-mounted data are kept)"
    require_nothing_left "$left"
    ((down_status == 0)) || die "docker compose down failed (see above); run ./scripts/stop.sh again"
}

# "ok stopped" only when no container and no network of the project is
# left: say what is, and what to do about it. A network stays when a
# container of no project (docker run --network ...) is still on it.
# Usage: require_nothing_left LISTING   (LISTING: project_containers, after down)
require_nothing_left() {
    local service name network users
    local -a problems=() services networks
    mapfile -t services < <(project_services "$1")
    while read -r service name; do
        problems+=("container $name (service $service) is still there; remove it: docker rm -f $name")
    done < <(((${#services[@]} == 0)) || container_names "${services[@]}")
    mapfile -t networks < <(project_networks 2>/dev/null)
    if ((${#networks[@]} > 0)); then
        while read -r network users; do
            problems+=("network $network is still in use by ${users:-a container}; disconnect it: docker network disconnect $network ${users%% *}")
        done < <(docker network inspect --format '{{.Name}} {{range .Containers}}{{.Name}} {{end}}' "${networks[@]}" 2>/dev/null)
    fi
    ((${#problems[@]} == 0)) && return 0
    error "the stack is not fully stopped:"
    printf '  - %s\n' "${problems[@]}" >&2
    info "Then run ./scripts/stop.sh again." >&2
    exit "$EXIT_FAILURE"
}

main() {
    local -a services
    parse_services services "$@"
    needs env-if-present compose model lock own-stack -- "${services[@]}"
    if ((${#services[@]} == 0)); then
        take_down "$STACK_MODEL" "$STACK_LISTING"
    else
        warn_about_dependents "$STACK_MODEL" "${services[@]}"
        step "Stopping $(join_by_comma "${services[@]}"); data is kept..."
        compose_or_die "docker compose stop failed (see above); run ./scripts/stop.sh $* again" stop "${services[@]}"
    fi
    ok "stopped"
}

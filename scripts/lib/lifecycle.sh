# shellcheck shell=bash
# Bringing services up and reporting on them: what start.sh and restart.sh
# share. Sourced, never run.

# What would make `up` fail half-way, checked before anything is created:
# a failed check leaves Docker and the disk as they were.
check_can_start() {
    check_volumes_writable
    check_ports_free
}

# Docker bind-mounts the services' data from volumes/. On a read-only folder
# `up` would fail only after creating the network and containers.
check_volumes_writable() {
    local volumes="$REPO_ROOT/volumes" probe
    [[ -d "$volumes" ]] || mkdir -p "$volumes" 2>/dev/null || true
    if probe="$(mktemp "$volumes/.write-test.XXXXXX" 2>/dev/null)"; then
        rm -f "$probe"
        return 0
    fi
    die "cannot start: volumes/ is read-only or not writable by $(id -un), and the services keep their data there; make it writable (chmod u+w volumes, or remount its filesystem read-write), then run ./scripts/$SCRIPT_NAME again"
}

# Every published port must be free, unless this stack's own containers
# already hold it (a second start.sh is not a conflict).
check_ports_free() {
    local service port own_ports busy=()
    # One engine query for the whole project, e.g. "127.0.0.1:5432->5432/tcp".
    own_ports="$(docker ps --filter "label=com.docker.compose.project=$(project_name)" \
        --format '{{.Ports}}' 2>/dev/null)" || own_ports=""
    while IFS= read -r service; do
        port="$(port_of "$service")"
        [[ -n "$port" ]] || continue
        [[ "$own_ports" != *":$port->"* ]] || continue
        if port_in_use "$port"; then
            busy+=("port $port for $service is already in use; stop what uses it, or pick another port: $(port_variable_of "$service")=$(neighbour_port "$port") ./scripts/start.sh")
        fi
    done < <(services_with_dependencies)
    if ((${#busy[@]} > 0)); then
        error "cannot start:"
        printf '  - %s\n' "${busy[@]}" >&2
        exit "$EXIT_FAILURE"
    fi
}

# A port next to PORT to suggest instead of it.
neighbour_port() {
    if (($1 < 65535)); then printf '%s' "$(($1 + 1))"; else printf '%s' "$(($1 - 1))"; fi
}

# The services `up` will start: the selected ones and what they depend on.
services_with_dependencies() {
    {
        selected_services
        if ((${#SERVICES[@]} > 0)) && printf '%s\n' "${SERVICES[@]}" | grep -qx langfuse; then
            printf 'postgres\n'
        fi
    } | awk '!seen[$0]++'
}

start_services() {
    step "Starting $(if ((${#SERVICES[@]} > 0)); then join_by_comma "${SERVICES[@]}"; else printf 'the stack'; fi) (project $(project_name), Compose $COMPOSE_VERSION)..."
    if ! compose up -d "${SERVICES[@]}" 2>&1 | redact_secrets; then
        error "docker compose up failed (see above)"
        while IFS= read -r service; do show_diagnostics "$service"; done < <(services_with_dependencies)
        exit "$EXIT_FAILURE"
    fi
}

# After Docker says "healthy", check what a client would do. A password
# changed in .env.infra after the first start shows up here: PostgreSQL keeps
# the one it was initialised with.
verify_credentials() {
    local service failed=false
    check_services || true
    while IFS= read -r service; do
        [[ "$(result_field "$service" 3)" == ok ]] && continue
        failed=true
        error "$service is up, but a client cannot use it: $(result_field "$service" 4)"
        explain_failed_probe "$service"
    done < <(selected_services)
    ! $failed || exit "$EXIT_FAILURE"
}

explain_failed_probe() {
    case "$1:$(result_field "$1" 4)" in
        postgres:*"password authentication failed"*)
            info "  POSTGRES_PASSWORD in .env.infra is not the password volumes/postgres was initialised with." >&2
            info "  Either put the old value back, or make the database use the new one (data is kept):" >&2
            info "    ./scripts/apply-schema.sh" >&2 ;;
        redis:*)
            info "  Recreate the container so it takes the password from .env.infra: ./scripts/restart.sh redis" >&2 ;;
        *)
            info "  Details: ./scripts/health-check.sh $1; logs: ./scripts/logs.sh $1" >&2 ;;
    esac
}

print_summary() {
    local service host
    host="$(probe_host)"
    while IFS= read -r service; do
        case "$service" in
            postgres) info "  postgres  postgresql://${POSTGRES_USER:-transbot_user}@$host:$(port_of postgres)/${POSTGRES_DB:-transbot}" ;;
            langfuse) info "  langfuse  http://localhost:$(port_of langfuse)  (login: ${LANGFUSE_ADMIN_EMAIL:-admin@transbot.local})" ;;
            redis) info "  redis     redis://$host:$(port_of redis)" ;;
        esac
    done < <(services_with_dependencies)
    info "Passwords are in .env.infra. Next: ./scripts/app-env.sh prints the settings for TransBot's .env."
}

# Waits for the started services and their dependencies, checks them as a
# client would, and prints where to reach them; exits 1 on any failure.
wait_and_report() {
    mapfile -t SERVICES < <(services_with_dependencies)
    wait_until_healthy "$1" || exit "$EXIT_FAILURE"
    verify_credentials
    ok "TransBot infrastructure is up:"
    print_summary
}

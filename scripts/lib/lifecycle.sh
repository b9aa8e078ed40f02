# shellcheck shell=bash
# Bringing services up and reporting on them: the core that start.sh and
# restart.sh share. Sourced, never run.

# Starts (or, with MODE restart, stops and starts) the named services with
# what they depend on, or the whole stack; unless --no-wait, waits until
# each is healthy and usable by a client, then prints where to connect.
# Usage: bring_up start|restart [SERVICE...] [--no-wait] [--timeout SECONDS]
bring_up() {
    local mode="$1" wait timeout model probes listing
    local -a named targets=()
    shift
    parse_bring_up_args wait timeout named "$@"
    # A broken .env.infra is reported as such, before Compose reads it.
    [[ ! -f "$ENV_FILE" ]] || prepare_env
    ask_ahead compose engine model
    require_docker
    model="$(compose_model)"
    require_known_services "$(model_services "$model")" "${named[@]}"
    take_stack_lock
    prepare_env
    listing="$(project_containers)"
    require_own_stack_in "$listing"
    warn_about_orphans "$model" "$listing"
    if ((${#named[@]} > 0)); then
        mapfile -t targets < <(model_with_dependencies "$model" "${named[@]}")
    else
        mapfile -t targets < <(model_services "$model")
    fi
    # Refused before anything is stopped or created: a failed check leaves
    # Docker and the disk as they were.
    check_volumes_writable
    check_ports "$model" "${targets[@]}"
    if [[ "$mode" == restart ]]; then
        step "Stopping $(described "${named[@]}")..."
        compose_or_die "docker compose stop failed (see above); nothing was started" stop "${named[@]}"
    fi
    start_services "${named[@]}" -- "${targets[@]}"
    # Only now: a refused or failed start leaves the disk as it was.
    remember_services "$model"
    if ! "$wait"; then
        ok "${mode}ed (not waiting for health; check with ./scripts/health-check.sh --wait)"
        return 0
    fi
    # Each client probe runs as soon as its service is healthy, while the
    # others still start: the check costs no time after the last one.
    probes="$(mktemp -d)"
    at_exit "rm -rf $(printf '%q' "$probes")"
    wait_until_healthy --probe-into "$probes" "$timeout" "${targets[@]}" || exit "$EXIT_FAILURE"
    verify_credentials "$probes" "${targets[@]}"
    ok "TransBot infrastructure is up:"
    print_summary "$model" "${targets[@]}"
}

# Containers of services no longer in the configuration keep running: `up`
# leaves them alone. They are named, not removed: removing a container loses
# what it keeps outside its volumes, and another COMPOSE_FILE may still
# list them.
# Usage: warn_about_orphans MODEL LISTING   (LISTING: project_containers)
warn_about_orphans() {
    local -a orphans
    mapfile -t orphans < <(orphan_services "$2" "$(model_services "$1")")
    ((${#orphans[@]} == 0)) ||
        warn "containers of services no longer in the configuration are left as they are: $(orphans_and_how_to_remove_them "${orphans[@]}")"
}

# "postgres, redis", or "the stack" when no service is named.
described() {
    if (($# > 0)); then join_by_comma "$@"; else printf 'the stack'; fi
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

# What sets a service's published port, for messages.
port_setting_of() {
    local variable
    variable="$(service_field "$1" port_variable)"
    if [[ -n "$variable" ]]; then printf '%s' "$variable"; else printf "%s's ports in your compose override" "$1"; fi
}

# Every port of the configuration is published once, and every port of the
# TARGETS is free, unless this stack's own containers already hold it (a
# second start.sh is not a conflict).
# Usage: check_ports MODEL TARGET...
check_ports() {
    local model="$1" service host port own_ports problems=() line
    shift
    # Two services on one host port: the second would fail half-way.
    while read -r line; do
        problems+=("$line")
    done < <(model_ports "$model" | awk '
        { key = $3; if (key in first && ($2 == "0.0.0.0" || hosts[key] == "0.0.0.0" || hosts[key] == $2)) print $3, first[key], $1
          else { first[key] = $1; hosts[key] = $2 } }' |
        while read -r port service host; do
            printf '%s and %s are both set to port %s; give each service its own port in .env.infra\n' \
                "$(port_setting_of "$service")" "$(port_setting_of "$host")" "$port"
        done)
    # One engine query for the whole project, e.g. "redis
    # 127.0.0.1:6379->6379/tcp". A port held by a container of a service no
    # longer in the configuration is not ours to reuse: `up` would fail on it.
    own_ports="$(docker ps --filter "label=com.docker.compose.project=$(project_name)" \
        --format '{{.Label "com.docker.compose.service"}} {{.Ports}}' 2>/dev/null |
        awk -v known="$(model_services "$model")" '
            BEGIN { n = split(known, name, "\n"); for (i = 1; i <= n; i++) configured[name[i]] = 1 }
            $1 in configured')" || own_ports=""
    while read -r service host port _; do
        grep -qxF -- "$service" < <(printf '%s\n' "$@") || continue
        [[ "$own_ports" != *":$port->"* ]] || continue
        port_in_use "$host" "$port" || continue
        problems+=("port $port for $service is already in use; stop what uses it, or pick another port: $(port_setting_of "$service")=$(neighbour_port "$port") ./scripts/$SCRIPT_NAME")
    done < <(model_ports "$model")
    if ((${#problems[@]} > 0)); then
        error "cannot start:"
        printf '  - %s\n' "${problems[@]}" >&2
        exit "$EXIT_FAILURE"
    fi
}

# A port next to PORT to suggest instead of it.
neighbour_port() {
    if (($1 < 65535)); then printf '%s' "$(($1 + 1))"; else printf '%s' "$(($1 - 1))"; fi
}

# Usage: start_services [SERVICE...] -- TARGET...
# TARGETS are what `up` starts (the services and their dependencies): their
# diagnostics are shown when `up` fails.
start_services() {
    local -a named=()
    while [[ "$1" != -- ]]; do named+=("$1"); shift; done
    shift
    step "Starting $(described "${named[@]}") (project $(project_name), Compose $COMPOSE_VERSION, $(current_healthcheck_path) healthchecks)..."
    if ! compose_up "${named[@]}" -- "$@"; then
        error "docker compose up failed (see above)"
        _give_up "$@"
        exit "$EXIT_FAILURE"
    fi
}

# After Docker says "healthy", check what a client would do. A password
# changed in .env.infra after the first start shows up here: PostgreSQL keeps
# the one it was initialised with.
# Reports each of SERVICES whose client probe (its line in PROBES, from
# wait_until_healthy --probe-into) failed, and exits 1 if any did.
# Usage: verify_credentials PROBES SERVICE...
verify_credentials() {
    local probes="$1" failed=false service probe detail
    shift
    for service in "$@"; do
        read -r probe detail <"$probes/$service" || true
        [[ "$probe" == ok ]] && continue
        failed=true
        error "$service is up, but a client cannot use it: ${detail:-no answer}"
        explain_failed_probe "$service" "$detail"
    done
    ! $failed || exit "$EXIT_FAILURE"
}

explain_failed_probe() {
    local service="$1" detail="$2"
    case "$(service_field "$service" probe):$detail" in
        sql:*"password authentication failed"*)
            info "  POSTGRES_PASSWORD in .env.infra is not the password volumes/$service was initialised with." >&2
            info "  Either put the old value back, or make the database use the new one (data is kept):" >&2
            info "    ./scripts/apply-schema.sh" >&2 ;;
        ping:*)
            info "  Recreate the container so it takes the password from .env.infra: ./scripts/restart.sh $service" >&2 ;;
        *)
            info "  Details: ./scripts/health-check.sh $service; logs: ./scripts/logs.sh $service" >&2 ;;
    esac
}

# Where to connect to each of TARGETS: the ports of the configuration as
# Compose resolved it (an override may have moved a built-in one).
# Usage: print_summary MODEL TARGET...
print_summary() {
    local model="$1" service host ports all_ports
    shift
    host="$(probe_host)"
    all_ports="$(model_ports "$model")"
    for service in "$@"; do
        case "$(service_field "$service" probe)" in
            sql) info "  $(printf '%-9s' "$service") postgresql://${POSTGRES_USER:-transbot_user}@$host:$(port_of "$service" "$all_ports")/${POSTGRES_DB:-transbot}" ;;
            http) info "  $(printf '%-9s' "$service") http://localhost:$(port_of "$service" "$all_ports")  (login: ${LANGFUSE_ADMIN_EMAIL:-admin@transbot.local})" ;;
            ping) info "  $(printf '%-9s' "$service") redis://$host:$(port_of "$service" "$all_ports")" ;;
            *)
                ports="$(awk -v s="$service" '$1 == s { printf "%s%s:%s", sep, $2, $3; sep = " " }' <<<"$all_ports")"
                info "  $(printf '%-9s' "$service") running${ports:+ on $ports}" ;;
        esac
    done
    info "Passwords are in .env.infra. Next: ./scripts/app-env.sh prints the settings for TransBot's .env."
}

# The arguments of start.sh and restart.sh, into the caller's variables.
# Usage: parse_bring_up_args WAIT_VAR TIMEOUT_VAR SERVICES_VAR ARG...
parse_bring_up_args() {
    local -n _wait="$1" _timeout="$2" _services="$3"
    local -a args
    shift 3
    _wait=true _timeout=300 _services=()
    split_option_values args "--timeout" "--no-wait --help" "$@"
    set -- "${args[@]}"
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            --no-wait) _wait=false; shift ;;
            --timeout) need_value "$@"; require_seconds "$1" "$2"; _timeout="$2"; shift 2 ;;
            -*) unknown_option "$1" "--no-wait --timeout -h --help" ;;
            *) require_service_syntax "$1"; _services+=("$1"); shift ;;
        esac
    done
}

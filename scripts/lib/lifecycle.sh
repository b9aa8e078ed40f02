# shellcheck shell=bash
# What commands share beyond their checks: bring_up, the core of start.sh
# and restart.sh (up, wait, report), and open_client, that of psql.sh and
# redis-cli.sh. Sourced, never run.

# Starts (or, with MODE restart, stops and starts) the named services with
# what they depend on, or the whole stack; unless --no-wait, waits until
# each is healthy and usable by a client, then prints where to connect.
# Usage: bring_up start|restart [SERVICE...] [--no-wait] [--timeout SECONDS]
bring_up() {
    local mode="$1" wait timeout probes running shortcut="" record=""
    local -a named targets=()
    shift
    parse_bring_up_args wait timeout named "$@"
    # start.sh of the whole stack may find it running as recorded: then
    # there is nothing to start (lib/model.sh).
    [[ "$mode" != start ]] || ((${#named[@]} > 0)) || shortcut=as-recorded
    needs env-create compose model lock own-stack ${shortcut:+"$shortcut"} -- "${named[@]}"
    if $STACK_AS_RECORDED; then
        report_running_as_recorded
        return 0
    fi
    warn_about_orphans "$STACK_MODEL" "$STACK_LISTING"
    if ((${#named[@]} > 0)); then
        mapfile -t targets < <(model_with_dependencies "$STACK_MODEL" "${named[@]}")
    else
        mapfile -t targets < <(model_services "$STACK_MODEL")
    fi
    # Refused before anything is stopped or created: a failed check leaves
    # Docker and the disk as they were. One listing of the running
    # containers serves the data-folder and the port checks.
    check_start_hooks "${targets[@]}"
    running="$(running_containers)"
    require_free_data_folders "$running" "${targets[@]}"
    check_volumes_writable
    check_ports "$STACK_MODEL" "$running" "${targets[@]}"
    if [[ "$mode" == restart ]]; then
        step "Stopping $(described "${named[@]}")..."
        compose_or_die "docker compose stop failed (see above); nothing was started" stop "${named[@]}"
    fi
    # The whole stack: what `up` made of the configuration is recorded once
    # it is healthy.
    ((${#named[@]} > 0)) || _UP_WANTS_DETAIL=true
    start_services "${named[@]}" -- "${targets[@]}"
    # The timeout runs from here: it covers Compose's own wait for a
    # healthy dependency as well as ours. The services are remembered for
    # health-check.sh once the wait is over, whatever its outcome (a
    # refused start leaves the disk as it was): written beside `up`, the
    # record took the CPU Compose needed to start.
    if ! "$wait"; then
        wait_until_healthy --up-only "$timeout" "${targets[@]}" || exit_remembering_services
        remember_services "$STACK_MODEL"
        ok "${mode}ed (not waiting for health; check with ./scripts/health-check.sh --wait)"
        return 0
    fi
    # The client probes run as the services turn healthy (see
    # wait_until_healthy).
    probes="$(mktemp -d)"
    # A probe still writing when its folder is removed would say so.
    at_exit "wait_for_probes; rm -rf $(printf '%q' "$probes")"
    wait_until_healthy --probe-into "$probes" "$timeout" "${targets[@]}" || exit_remembering_services
    # While the probes run: what is remembered, written only once they
    # have passed.
    remember_services "$STACK_MODEL"
    ((${#named[@]} > 0)) || record="$(running_record "$STACK_MODEL" "$_UP_DETAIL")" || record=""
    wait_for_probes
    verify_credentials "$probes" "${targets[@]}"
    [[ -z "$record" ]] || remember_running "$record"
    ok "TransBot infrastructure is up:"
    print_summary "$STACK_MODEL" "${targets[@]}"
}

# A start whose wait failed: Compose has made what it made, and
# health-check.sh needs the services as much as after a success.
exit_remembering_services() {
    remember_services "$STACK_MODEL"
    exit "$EXIT_FAILURE"
}

# start.sh on a stack that runs healthy as recorded for this configuration
# (needs as-recorded): Compose would change nothing. Each client probe
# still runs, as after a start, and a failed one is reported the same way.
report_running_as_recorded() {
    local probes service id
    local -a targets pids=()
    local -A container=()
    mapfile -t targets < <(model_services "$STACK_MODEL")
    while read -r id service _; do
        [[ -n "${container[$service]:-}" ]] || container[$service]="$id"
    done <<<"$STACK_LISTING"
    step "The stack runs healthy as it was started with this configuration: nothing to start."
    # The look listed their ports too: Langfuse's probe needs no `docker port`.
    remember_listed_ports "$STACK_DETAIL"
    probes="$(mktemp -d)"
    at_exit "rm -rf $(printf '%q' "$probes")"
    for service in "${targets[@]}"; do
        probe_service "$service" "${container[$service]}" >"$probes/$service" &
        pids+=("$!")
    done
    wait "${pids[@]}" || true
    verify_credentials "$probes" "${targets[@]}"
    ok "TransBot infrastructure is up:"
    print_summary "$STACK_MODEL" "${targets[@]}"
}

# Each of TARGETS with a check_start hook refuses what would fail once
# started (postgres: a data folder of another major than its image).
check_start_hooks() {
    local service
    for service in "$@"; do
        ! service_has check_start "$service" || service_hook "$service" check_start
    done
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

# Docker bind-mounts the services' data from volumes/. On a read-only folder
# `up` would fail only after creating the network and containers. -w asks
# the kernel (access(2)), which also says no on a read-only filesystem, for
# root too: no file needs to be made to find out.
check_volumes_writable() {
    local volumes="$REPO_ROOT/volumes"
    [[ -d "$volumes" ]] || mkdir -p "$volumes" 2>/dev/null || true
    if [[ -d "$volumes" && -w "$volumes" && -x "$volumes" ]]; then
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
# second start.sh is not a conflict). RUNNING: from running_containers.
# Usage: check_ports MODEL RUNNING TARGET...
check_ports() {
    local model="$1" own_ports service host port problems=() line
    local -A target=()
    # e.g. "127.0.0.1:5432->5432/tcp". A port held by a container of a
    # service no longer in the configuration is not ours to reuse: `up`
    # would fail on it.
    own_ports="$(project_ports "$2" "$(model_services "$model")")"
    shift 2
    for service in "$@"; do target[$service]=1; done
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
    while read -r service host port _; do
        [[ -n "${target[$service]:-}" ]] || continue
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

# Starts `up` for SERVICES in the background; the wait that follows
# (wait_until_healthy) watches it, and reports its failure with the
# diagnostics of TARGETS (what `up` starts: the services and their
# dependencies). Once `up` has returned, this command changes nothing more:
# the clone's lock is released, and stop.sh need not wait for the health
# wait.
# Usage: start_services [SERVICE...] -- TARGET...
start_services() {
    local -a named=()
    while [[ "$1" != -- ]]; do named+=("$1"); shift; done
    shift
    step "Starting $(described "${named[@]}") (project $(project_name), Compose $COMPOSE_VERSION, $(current_healthcheck_path) healthchecks)..."
    compose_up_in_background --release-lock "${named[@]}" -- "$@"
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

# What to do about SERVICE's failed probe: its hint hook, else where to look.
explain_failed_probe() {
    local service="$1" detail="$2"
    if service_has hint "$service" && service_hook "$service" hint "$detail"; then
        return 0
    fi
    info "  Details: ./scripts/health-check.sh $service; logs: ./scripts/logs.sh $service" >&2
}

# Where to connect to each of TARGETS: the ports of the configuration as
# Compose resolved it (an override may have moved a built-in one).
# Usage: print_summary MODEL TARGET...
print_summary() {
    local model="$1" service host ports all_ports
    shift
    host="$(url_host)"
    all_ports="$(model_ports "$model")"
    for service in "$@"; do
        if service_has summary "$service"; then
            info "  $(printf '%-9s' "$service") $(service_hook "$service" summary "$host" "$all_ports")"
        else
            ports="$(awk -v s="$service" '$1 == s { printf "%s%s:%s", sep, $2, $3; sep = " " }' <<<"$all_ports")"
            info "  $(printf '%-9s' "$service") running${ports:+ on $ports}"
        fi
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
            --timeout) need_value "$@"; require_seconds "$1" "$2"; _timeout="$((10#$2))"; shift 2 ;;
            -*) unknown_option "$1" "--no-wait --timeout -h --help" ;;
            *) require_service_syntax "$1"; _services+=("$1"); shift ;;
        esac
    done
}

# What psql.sh and redis-cli.sh share: SERVICE's own client, inside its
# running container, with every argument (after --, even --help) passed on.
# Usage: open_client SERVICE [ARG...]
open_client() {
    local service="$1"
    shift
    case "${1:-}" in
        -h | --help) usage; exit 0 ;;
        --) shift ;;
    esac
    needs env engine own-stack
    service_hook "$service" client "$@"
}

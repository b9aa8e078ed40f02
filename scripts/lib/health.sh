# shellcheck shell=bash
# What "healthy" means for each service: the container runs, Docker's
# healthcheck passes, and a probe doing what a client does succeeds with the
# credentials from .env.infra. Sourced, never run.

# The host address to reach published ports at: the bind address, or
# loopback when the stack listens on every interface.
probe_host() {
    case "${BIND_ADDRESS:-127.0.0.1}" in
        0.0.0.0 | "" | :: | "[::]") printf '127.0.0.1' ;;
        *) printf '%s' "${BIND_ADDRESS#[}" | tr -d ']' ;;
    esac
}

# The HTTP status code of GET http://HOST:PORT/PATH, using nothing but bash,
# so the check works on hosts without curl or wget. Empty on no answer.
http_status() {
    local host="$1" port="$2" path="$3" fd line=""
    # The braces keep bash's "connection refused" off the screen.
    { exec {fd}<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 0
    printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$path" "$host" "$port" >&"$fd"
    IFS= read -r -t 5 line <&"$fd" || true
    exec {fd}>&-
    line="${line%$'\r'}"
    [[ "$line" =~ ^HTTP/[0-9.]+[[:space:]]+([0-9]{3}) ]] && printf '%s' "${BASH_REMATCH[1]}"
    return 0
}

# Whether something accepts connections on HOST:PORT (a wildcard host is
# asked on loopback).
port_in_use() {
    local host="$1" port="$2" fd
    case "$host" in 0.0.0.0 | "" | :: | "[::]") host=127.0.0.1 ;; esac
    if { exec {fd}<>"/dev/tcp/${host//[\[\]]/}/$port"; } 2>/dev/null; then
        exec {fd}>&-
        return 0
    fi
    return 1
}

# The functional probe of SERVICE in CONTAINER, by the probe its row of the
# service table names. Prints one line: "ok <what was checked>" or "fail
# <why>". Passwords reach the container through the environment of `docker
# exec` (-e NAME without a value), never argv.
probe_service() {
    local service="$1" container="$2" probe
    probe="$(service_field "$service" probe)"
    if [[ -n "$probe" ]]; then
        "_probe_$probe" "$service" "$container"
    else
        _probe_docker_health "$container"
    fi
}

_probe_sql() {
    local container="$2" output
    # Over the network name, not loopback: inside the container loopback is
    # trusted without a password.
    if output="$(PGPASSWORD="${POSTGRES_PASSWORD-}" PGCONNECT_TIMEOUT=5 docker exec \
        -e PGPASSWORD -e PGCONNECT_TIMEOUT "$container" \
        psql -h "$1" -U "${POSTGRES_USER:-transbot_user}" -d "${POSTGRES_DB:-transbot}" \
        -XtAq -c 'SELECT 1' 2>&1)" && [[ "$output" == 1 ]]; then
        printf 'ok SELECT 1 as %s on %s' "${POSTGRES_USER:-transbot_user}" "${POSTGRES_DB:-transbot}"
    else
        printf 'fail %s' "$(_first_line "$output")"
    fi
}

_probe_ping() {
    local container="$2" output
    output="$(REDISCLI_AUTH="${REDIS_PASSWORD-}" docker exec -e REDISCLI_AUTH "$container" \
        redis-cli ping 2>&1)" || true
    if [[ "$output" == PONG ]]; then
        printf 'ok authenticated PING answered PONG'
    else
        printf 'fail PING answered: %s' "$(_first_line "$output")"
    fi
}

_probe_http() {
    local service="$1" container="$2" port status
    # Where the engine publishes it: an override may have moved the port
    # away from what LANGFUSE_PORT says (one `docker port`, no Compose).
    port="$(published_port "$service" "$(engine_ports "$service" "$container")")"
    if [[ -z "$port" ]]; then
        printf 'fail its port %s is not published (see ports: in your compose files)' "$(service_field "$service" target)"
        return 0
    fi
    status="$(http_status "$(probe_host)" "$port" '/api/public/health?failIfDatabaseUnavailable=true')"
    if [[ "$status" == 200 ]]; then
        printf 'ok GET /api/public/health on port %s answered 200' "$port"
    else
        printf 'fail GET /api/public/health on port %s answered %s' "$port" "${status:-nothing}"
    fi
}

# A service of the user's own (from an override file) has no client probe
# here: Docker's healthcheck, if it has one, is the judge.
_probe_docker_health() {
    local container="$1"
    case "$(container_status "$container")" in
        "running healthy") printf 'ok Docker healthcheck passes' ;;
        "running none") printf 'ok running (it has no healthcheck)' ;;
        "running starting") printf 'fail Docker healthcheck has not passed yet' ;;
        *) printf 'fail Docker healthcheck fails: %s' "$(_first_line "$(last_health_output "$container")")" ;;
    esac
}

_first_line() {
    local text="${1:-no output}"
    printf '%s' "${text%%$'\n'*}" | cut -c1-200
}

# Checks SERVICES, in parallel. Prints one line per service, in order:
# "SERVICE STATE HEALTH PROBE DETAIL...", e.g. "redis running healthy ok
# authenticated PING answered PONG". Returns 0 only if all are healthy.
# CONTAINERS is a project_containers listing: with it, the states of all
# services take one more call.
# Usage: check_services CONTAINERS SERVICE...
check_services() {
    local containers="$1" dir service id state health line all_healthy=0
    local -A container=() status=()
    shift
    while read -r service id state health _; do
        container[$service]="$id"
        status[$service]="$state $health"
    done < <(project_container_states "$containers")
    dir="$(mktemp -d)"
    for service in "$@"; do
        if [[ -z "${container[$service]:-}" ]]; then
            printf 'missing none fail no container; start it with ./scripts/start.sh %s' "$service" >"$dir/$service"
        elif [[ "${status[$service]}" != running* ]]; then
            printf '%s none fail container is not running' "${status[$service]%% *}" >"$dir/$service"
        else
            printf '%s %s' "${status[$service]}" "$(probe_service "$service" "${container[$service]}")" >"$dir/$service" &
        fi
    done
    wait
    for service in "$@"; do
        line="$(<"$dir/$service")"
        printf '%s %s\n' "$service" "$line"
        [[ "$line" =~ ^running\ (healthy|none)\ ok ]] || all_healthy=1
    done
    rm -rf "$dir"
    return "$all_healthy"
}

# Waits until every one of SERVICES has a container that is running and healthy by
# Docker's healthcheck, printing each one as it gets there. Gives up early
# when a container stops or restarts (a crash loop never turns healthy), and
# at the deadline. Returns 1, after showing diagnostics, when it gives up.
# With --probe-into DIR, each service's client probe (probe_service) starts
# the moment it is healthy, beside the wait for the others, and its line is
# in DIR/SERVICE when this returns 0.
#
# It looks again the moment the engine reports a start, a death, a restart
# or a health status of the project's containers, so a service is seen
# healthy as soon as Docker says so; without events (the stream ended) it
# looks every 0.25 s. One `docker inspect` for all the project's containers,
# keyed by their Compose service label, keeps a look cheap: the services
# start on the same CPUs.
# Usage: wait_until_healthy [--probe-into DIR] TIMEOUT SERVICE...
wait_until_healthy() {
    local probes=""
    if [[ "$1" == --probe-into ]]; then
        probes="$2"
        shift 2
    fi
    local timeout="$1" began="$SECONDS" service id state health restarts failure="" events events_pid
    shift
    local -a pending=("$@") still=() containers=() probing=()
    local -A status=() restarts_before=()
    follow_project_events events events_pid
    mapfile -t containers < <(container_ids "$(project_containers)")
    step "Waiting for $(join_by_comma "${pending[@]}") to be healthy (up to ${timeout}s)..."
    while ((${#pending[@]} > 0)); do
        status=()
        while read -r service id state health restarts; do
            status[$service]="$id $state $health $restarts"
        done < <(container_states "${containers[@]}")
        still=()
        for service in "${pending[@]}"; do
            read -r id state health restarts <<<"${status[$service]:-none missing none 0}"
            # The count seen first is the baseline: any later restart is a crash.
            : "${restarts_before[$service]:=$restarts}"
            if [[ "$state $health" == "running healthy" || "$state $health" == "running none" ]]; then
                ok "$service is healthy ($((SECONDS - began))s)"
                if [[ -n "$probes" ]]; then
                    probe_service "$service" "$id" >"$probes/$service" &
                    probing+=("$!")
                fi
            elif [[ "$state" != running && "$state" != restarting && "$state" != created ]]; then
                failure="$service is not running ($state $health)"
            elif ((restarts > restarts_before[$service])); then
                failure="$service restarted while starting: it is crashing"
            else
                still+=("$service")
            fi
            [[ -z "$failure" ]] || break
        done
        [[ -z "$failure" ]] || break
        pending=("${still[@]}")
        ((${#pending[@]} > 0)) || break
        if ((SECONDS - began >= timeout)); then
            failure="timed out after ${timeout}s waiting for $(join_by_comma "${pending[@]}")"
            break
        fi
        # A second at most between looks: the deadline and a crash that
        # sends no event are still noticed.
        if [[ -n "$events" ]] && ! next_events "$events" 1; then
            exec {events}<&-
            events=""
        fi
        [[ -n "$events" ]] || sleep 0.25
    done
    [[ -z "$events" ]] || exec {events}<&-
    kill "$events_pid" 2>/dev/null || true
    # A probe still writing when the caller removes DIR would say so.
    ((${#probing[@]} == 0)) || wait "${probing[@]}" || true
    [[ -n "$failure" ]] || return 0
    error "$failure"
    _give_up "${pending[@]}"
    return 1
}

_give_up() {
    local service
    for service in "$@"; do
        show_diagnostics "$service"
    done
}

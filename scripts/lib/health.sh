# shellcheck shell=bash
# What "healthy" means for each service: the container runs, Docker's
# healthcheck passes, and a probe doing what a client does succeeds with the
# credentials from .env.infra. Sourced, never run.

# The host address to reach published ports at: the bind address, or
# loopback when the stack listens on every interface.
probe_host() {
    case "$(setting BIND_ADDRESS)" in
        0.0.0.0 | "" | :: | "[::]") printf '127.0.0.1' ;;
        *) printf '%s' "${BIND_ADDRESS//[][]/}" ;;
    esac
}

# probe_host as the host of a URL: an IPv6 address in brackets (RFC 3986),
# or psql and redis clients take its colons for the port's.
url_host() {
    local host
    host="$(probe_host)"
    [[ "$host" != *:* ]] || host="[$host]"
    printf '%s' "$host"
}

# The HTTP status code of GET http://HOST:PORT/PATH, using nothing but bash,
# so the check works on hosts without curl or wget. Empty on no answer.
http_status() {
    local host="$1" port="$2" path="$3" fd line=""
    # The braces keep bash's "connection refused" off the screen.
    { exec {fd}<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 0
    # And bash's "read error: Connection reset by peer": while a service
    # starts, docker-proxy accepts and resets connections, and a wait tries
    # again every second (a 'write error' may come first).
    { printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$path" "$host" "$port" >&"$fd"; } 2>/dev/null || true
    { IFS= read -r -t 5 line <&"$fd"; } 2>/dev/null || true
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

# The functional probe of SERVICE in CONTAINER: its probe hook
# (lib/services/), else Docker's healthcheck. Prints one line: "ok <what
# was checked>" or "fail <why>". Passwords reach the container through the
# environment of `docker exec` (-e NAME without a value), never argv.
probe_service() {
    local service="$1" container="$2"
    if service_has probe "$service"; then
        service_hook "$service" probe "$container"
    else
        _probe_docker_health "$container"
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
        *) printf 'fail Docker healthcheck fails: %s' "$(first_line_of "$(last_health_output "$container")")" ;;
    esac
}

# The first line of TEXT, at most 200 characters, for a one-line detail.
first_line_of() {
    local text="${1:-no output}"
    printf '%s' "${text%%$'\n'*}" | cut -c1-200
}

# Checks SERVICES, in parallel. Prints one line per service, in order:
# "SERVICE STATE HEALTH PROBE DETAIL...", e.g. "redis running healthy ok
# authenticated PING answered PONG". Returns 0 only if all are healthy.
# DETAIL is a project_containers_in_detail listing: it holds every state
# already, so only the probes ask the engine more.
# Usage: check_services DETAIL SERVICE...
check_services() {
    local containers="$1" dir service id state health line all_healthy=0
    local -A container=() status=()
    shift
    remember_listed_ports "$containers"
    while read -r service id state health; do
        container[$service]="$id"
        status[$service]="$state $health"
    done < <(detail_states "$containers")
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

# Waits until every one of SERVICES has a container that is running and
# healthy by Docker's healthcheck, printing each one as it gets there, and
# every PROGRESS_SECONDS what it still waits for. Gives up early when a
# container stops or restarts (a crash loop never turns healthy) or its
# healthcheck never runs (an engine without healthcheck timers), and at
# the deadline. Returns 1, after showing diagnostics, when it gives up.
# With --probe-into DIR, each service's client probe (probe_service) runs,
# and its line is in DIR/SERVICE once wait_for_probes has returned: the
# caller does its own work meanwhile. A probe is a `docker exec`, and one
# run while another service starts takes the CPU that service needs (on 2
# cores, Langfuse then passed its healthcheck 0.35 s later in 3 warm starts
# of 4). So a probe starts either while `up` still waits for a dependency
# to be healthy, the moment the engine reports that service healthy (the
# CPU is idle then: Compose looks again only every half second), or once
# every service is healthy, together with the others. An early probe
# counts only for the very container that ends up healthy, and only if it
# passed: any other is run again at the end.
#
# A `compose up` running in the background (compose_up_in_background) is
# part of the wait: the deadline covers Compose's own wait for a healthy
# dependency, a failed `up` ends the wait, and a service counts as healthy
# only once `up` has returned (until then its container may be an old one
# that `up` is about to replace, and one not created or started yet is
# simply not there yet). With --up-only (start.sh --no-wait) the wait ends
# when `up` has returned: the services are only watched, to report on.
#
# It looks again the moment the engine reports a start, a death, a restart
# or a health status of the project's containers, so a service is seen
# healthy as soon as Docker says so (a look, not the event itself: the
# stream begins with the last two seconds' events, which may be of a
# container's earlier life); without events (the stream ended) it looks
# every 0.25 s. One `docker inspect` for all the project's containers,
# keyed by their Compose service label, keeps a look cheap: the services
# start on the same CPUs.
# Usage: wait_until_healthy [--probe-into DIR] [--up-only] TIMEOUT SERVICE...
wait_until_healthy() {
    local probes="" up_only=false
    while [[ "$1" == --* ]]; do
        case "$1" in
            --probe-into) probes="$2"; shift 2 ;;
            --up-only) up_only=true; shift ;;
            *) die "wait_until_healthy: no option $1" ;;
        esac
    done
    local timeout="$1" began="$SECONDS" service id state health restarts logged healthcheck
    local failure="" diagnose=true up=ended listed=false events changed_by waited=false
    local next_report=$((SECONDS + PROGRESS_SECONDS))
    shift
    local -a pending=("$@") still=() containers=() described=()
    local -A status=() restarts_before=() running_since=() ready=()
    defer_signals true
    follow_project_events events
    $up_only || step "Waiting for $(join_by_comma "${pending[@]}") to be healthy (up to ${timeout}s)..."
    while :; do
        handle_pending_signal
        up=ended
        ! compose_up_running || up=running
        if [[ -n "$_UP_STATUS" && "$_UP_STATUS" != 0 ]]; then
            # Compose exits 130 when it was interrupted itself.
            ((_UP_STATUS != EXIT_INTERRUPTED)) || _on_interrupt
            failure="docker compose up failed (see above)"
            pending=("$@")
            break
        fi
        # --no-wait: once `up` has returned, the wait is over.
        if [[ "$up" == ended ]] && $up_only; then
            pending=()
            break
        fi
        # Not before a second has passed: `up` is still creating what
        # there would be to look at, and needs the CPU for it.
        if [[ "$up" == running ]] && ! $waited; then
            _await_news events "$up" "$probes"
            waited=true
            continue
        fi
        # While `up` runs it creates containers: list them at every look,
        # and once more when it has returned: from what `up` made, when
        # that was listed the moment it returned (start.sh of the whole
        # stack), as the last service starts and needs the CPU.
        if [[ "$up" == ended && -n "$_UP_DETAIL" ]] && ! $listed; then
            mapfile -t containers < <(container_ids "$(listing_of_detail "$_UP_DETAIL")")
            # Their ports too: Langfuse's probe needs no `docker port`.
            remember_listed_ports "$_UP_DETAIL"
            listed=true
        elif [[ "$up" == running ]] || ! $listed; then
            mapfile -t containers < <(container_ids "$(project_containers)")
            [[ "$up" == running ]] || listed=true
        fi
        status=()
        while read -r service id state health restarts logged healthcheck; do
            # Newest first: a container `up` is replacing is the older one.
            [[ -n "${status[$service]:-}" ]] || status[$service]="$id $state $health $restarts $logged $healthcheck"
        done < <(container_states "${containers[@]}")
        still=()
        described=()
        for service in "${pending[@]}"; do
            read -r id state health restarts logged healthcheck <<<"${status[$service]:-none missing none 0 0 null}"
            # The count seen first is the baseline: any later restart is a crash.
            : "${restarts_before[$id]:=$restarts}"
            [[ "$state" != running || -n "${running_since[$id]:-}" ]] || running_since[$id]="$SECONDS"
            if [[ "$up" == ended && ("$state $health" == "running healthy" || "$state $health" == "running none") ]] && ! $up_only; then
                ok "$service is healthy ($((SECONDS - began))s)"
                ready[$service]="$id"
                continue
            elif ((restarts > restarts_before[$id])); then
                failure="$service restarted while starting: it is crashing"
            elif [[ "$up" == ended && "$state" != running && "$state" != restarting && "$state" != created ]]; then
                failure="$service is not running ($state $health)"
                changed_by="$(lock_taken_since_release)"
                if [[ -n "$changed_by" ]]; then
                    failure="$service stopped while $SCRIPT_NAME waited for it to be healthy: $changed_by changed the stack meanwhile; nothing more was done"
                    diagnose=false
                fi
            elif [[ "$health" == starting && "$logged" == 0 ]] &&
                _healthcheck_never_ran "$((SECONDS - ${running_since[$id]:-$SECONDS}))" "$healthcheck"; then
                failure="$(_no_healthchecks_message "$service" "$((SECONDS - running_since[$id]))")"
            fi
            [[ -z "$failure" ]] || break
            still+=("$service")
            described+=("$service $(_state_words "$state" "$health")")
        done
        if [[ -n "$failure" ]]; then
            pending=("$service")
            break
        fi
        pending=("${still[@]}")
        if [[ "$up" == ended ]] && ((${#pending[@]} == 0)); then
            pending=()
            break
        fi
        if ((SECONDS - began >= timeout)); then
            # Those still starting, not those only `up` kept from counting.
            mapfile -t pending < <(_not_healthy "${described[@]}")
            failure="$(_timed_out_message "$timeout" "$up_only" "$up" "${pending[@]}")"
            break
        fi
        if ((SECONDS >= next_report)); then
            info "  still waiting ($((SECONDS - began))s of ${timeout}s): $(_join_semicolon "${described[@]}")$([[ "$up" == ended ]] || printf '; docker compose up still running')"
            next_report=$((SECONDS + PROGRESS_SECONDS))
        fi
        _await_news events "$up" "$probes"
    done
    [[ -z "$events" ]] || exec {events}<&-
    stop_following_events
    # A failure while `up` still runs: it is stopped (quietly) first.
    stop_compose_up
    if [[ -z "$failure" && -n "$probes" ]]; then
        for service in "${!ready[@]}"; do
            ! _passed_early "$probes" "$service" "${ready[$service]}" || continue
            probe_service "$service" "${ready[$service]}" >"$probes/$service" &
            _PROBE_PIDS+=("$!")
        done
    fi
    _forget_early_probes
    defer_signals false
    [[ -n "$failure" ]] || return 0
    error "$failure"
    ! $diagnose || _give_up "${pending[@]}"
    return 1
}

# The client probes wait_until_healthy --probe-into started.
_PROBE_PIDS=()
wait_for_probes() {
    ((${#_PROBE_PIDS[@]} == 0)) || wait "${_PROBE_PIDS[@]}" || true
    _PROBE_PIDS=()
}

# The probes started early (see wait_until_healthy), SERVICE -> "CONTAINER
# PID"; each writes DIR/.early-SERVICE.CONTAINER.
declare -gA _EARLY_PROBES=()

# Starts the client probe of each service the events just read
# (_NEXT_EVENTS) report healthy, unless one runs for that container
# already. Only services with a probe hook: Docker's healthcheck, the
# judge of the others, has just said.
# Usage: _probe_early DIR
_probe_early() {
    local dir="$1" line id service action
    for line in "${_NEXT_EVENTS[@]}"; do
        read -r id service action <<<"$line"
        [[ "$action" == "health_status: healthy" ]] || continue
        service_has probe "$service" || continue
        [[ "${_EARLY_PROBES[$service]:-}" != "$id "* ]] || continue
        # One of a container `up` has replaced since: waited for with the
        # others, its result unread.
        [[ -z "${_EARLY_PROBES[$service]:-}" ]] || _PROBE_PIDS+=("${_EARLY_PROBES[$service]##* }")
        probe_service "$service" "$id" >"$dir/.early-$service.$id" &
        _EARLY_PROBES[$service]="$id $!"
    done
}

# Whether SERVICE's early probe was of CONTAINER, the one now healthy, and
# passed: its line is then DIR/SERVICE, as if probed at the end.
# Usage: _passed_early DIR SERVICE CONTAINER
_passed_early() {
    local dir="$1" service="$2" container="$3" id pid word=""
    read -r id pid <<<"${_EARLY_PROBES[$service]:-}"
    [[ -n "$id" && "$id" == "$container" ]] || return 1
    wait "$pid" || true
    unset '_EARLY_PROBES[$service]'
    read -r word _ <"$dir/.early-$service.$container" || true
    [[ "$word" == ok ]] || return 1
    mv -f -- "$dir/.early-$service.$container" "$dir/$service"
}

# The early probes not taken are waited for with the others (their folder
# is removed after wait_for_probes), their results unread.
_forget_early_probes() {
    local service
    for service in "${!_EARLY_PROBES[@]}"; do
        _PROBE_PIDS+=("${_EARLY_PROBES[$service]##* }")
    done
    _EARLY_PROBES=()
}

# How often a wait says what it still waits for.
readonly PROGRESS_SECONDS=10

# Until the next event on the stream in FD_VAR, at most a second. While
# `up` runs (UP is "running"): until it returns, looked at ten times a
# second with builtins only, or a second has passed; its events are read
# but wake nobody: each look costs two `docker` calls, and while `up`
# creates and starts the containers they would take the CPU that the
# starting services need (a crash is still seen within the second). With
# PROBES (a folder), a service reported healthy meanwhile has its client
# probe started at once (_probe_early).
# Without a stream (it ended), 0.25 s (0.1 s while `up` runs).
# Usage: _await_news FD_VAR UP [PROBES]
_await_news() {
    local -n _news="$1"
    local up="$2" probes="${3:-}" tenths
    if [[ -z "$_news" ]]; then
        if [[ "$up" == running ]]; then sleep 0.1; else sleep 0.25; fi
    elif [[ "$up" != running ]]; then
        next_events "$_news" 1 || { exec {_news}<&-; _news=""; }
    else
        for ((tenths = 0; tenths < 10; tenths++)); do
            if ! next_events "$_news" 0.1; then
                exec {_news}<&-
                _news=""
                return
            fi
            [[ -z "$probes" || ${#_NEXT_EVENTS[@]} == 0 ]] || _probe_early "$probes"
            [[ -z "$_PENDING_SIGNAL" ]] || return 0
            compose_up_running || return 0
        done
    fi
}

# "running, health starting", "created, not started", ... for a progress line.
_state_words() {
    local state="$1" health="$2"
    case "$state $health" in
        "missing "*) printf 'not created yet' ;;
        "created "*) printf 'created, not started' ;;
        "running none") printf 'running' ;;
        "running "*) printf 'running, health %s' "$health" ;;
        *) printf '%s' "$state" ;;
    esac
}

_join_semicolon() {
    local text
    text="$(printf '%s; ' "$@")"
    printf '%s' "${text%; }"
}

# The services of "SERVICE WORDS" lines that are not healthy, one a line.
_not_healthy() {
    local line
    for line in "$@"; do
        [[ "$line" == *" running, health healthy" || "$line" == *" running" ]] || printf '%s\n' "${line%% *}"
    done
}

# What a wait that timed out waited for: the services not healthy yet, or
# `up` itself.
# Usage: _timed_out_message TIMEOUT UP_ONLY UP NOT_HEALTHY...
_timed_out_message() {
    local timeout="$1" up_only="$2" up="$3"
    shift 3
    printf 'timed out after %ss waiting for ' "$timeout"
    if $up_only || (($# == 0)); then
        printf 'docker compose up'
        (($# == 0)) || printf ' (not healthy yet: %s)' "$(join_by_comma "$@")"
    else
        printf '%s' "$(join_by_comma "$@")"
    fi
    [[ "$up" != running ]] || printf '; docker compose up was stopped'
}

# Whether a healthcheck that has logged no probe in the SECONDS its
# container has run never will: the engine runs the first probe within one
# interval (start_interval, during a start_period at least that long), and
# logs it at most its timeout later. Twice the interval, the timeout and
# 10 s more is past any engine that runs healthchecks at all.
# Usage: _healthcheck_never_ran SECONDS HEALTHCHECK_JSON
_healthcheck_never_ran() {
    local seconds="$1" json="$2" interval timeout start_interval start_period
    # 10 s is below any answer: no need to read the JSON before.
    ((seconds > 10)) && [[ "$json" != null && -n "$json" ]] || return 1
    interval="$(_nanoseconds "$json" Interval 30000000000)"
    timeout="$(_nanoseconds "$json" Timeout 30000000000)"
    start_interval="$(_nanoseconds "$json" StartInterval 0)"
    start_period="$(_nanoseconds "$json" StartPeriod 0)"
    if ((start_interval > 0 && start_period >= start_interval && start_interval < interval)); then
        interval="$start_interval"
    fi
    ((seconds * 1000000000 > 2 * interval + timeout + 10000000000))
}

# A duration of the healthcheck JSON in nanoseconds, or DEFAULT when it is
# absent or 0 (the engine's default then).
# Usage: _nanoseconds JSON KEY DEFAULT
_nanoseconds() {
    if [[ "$1" =~ \"$2\":([0-9]+) ]] && ((BASH_REMATCH[1] > 0)); then
        printf '%s' "${BASH_REMATCH[1]}"
    else
        printf '%s' "$3"
    fi
}

_no_healthchecks_message() {
    local service="$1" seconds="$2" engine="this engine"
    [[ "$(docker version --format '{{.Server.Os}} {{range .Server.Components}}{{.Name}} {{end}}' 2>/dev/null)" != *[Pp]odman* ]] ||
        engine="Podman"
    printf "%s's healthcheck has not run once in the %ss its container has run: %s runs no healthchecks, so it never turns healthy" \
        "$service" "$seconds" "$engine"
    if [[ "$engine" == Podman ]]; then
        printf ' (Podman runs them from systemd timers: it needs systemd; see Podman in the README)'
    else
        printf ' (on Podman, healthchecks need systemd; see Podman in the README)'
    fi
}

_give_up() {
    local service
    for service in "$@"; do
        show_diagnostics "$service"
    done
}

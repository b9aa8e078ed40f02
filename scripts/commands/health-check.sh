# shellcheck shell=bash
# Is the stack usable? Container state, Docker health and a real client probe
# per service; exit 0 only if every checked service is healthy.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...] [--wait] [--timeout SECONDS] [--json]

Checks each service (all when none is named: ${BUILTIN_SERVICES[*]}, and
the services of your override files that have a container; containers of
services removed from them are named, not checked): its container
state, Docker's health status, and a probe that does what a client does with
the credentials in .env.infra:
  postgres  an authenticated SELECT 1 on the TransBot database
  redis     an authenticated PING that must answer PONG
  langfuse  GET /api/public/health through the published port
A service of your own is judged by its Docker healthcheck, or is healthy
when it runs and has none.

Options:
  --wait               poll until every service is healthy or the timeout passes
  --timeout SECONDS    how long --wait polls (default: 120)
  --json               print JSON for tools instead of a table
  -h, --help           show this help

Exit status: 0 all healthy, 1 not healthy (or Docker unavailable), 2 usage error.
EOF
}

# "SERVICE STATE HEALTH PROBE DETAIL" lines (check_services) as a table.
print_table() {
    local service state health probe detail colour
    printf '%-10s %-10s %-10s %s\n' SERVICE STATE HEALTH PROBE
    while read -r service state health probe detail; do
        colour=32
        [[ "$probe" == ok ]] || colour=31
        printf '%-10s %-10s %-10s %s\n' "$service" "$state" "$health" "$(_paint "$colour" 1 "$probe"): $detail"
    done <<<"$1"
}

print_json() {
    local results="$1" healthy="$2" service state health probe detail first=true
    printf '{"healthy":%s,"services":[' "$healthy"
    while read -r service state health probe detail; do
        $first || printf ','
        first=false
        printf '{"service":"%s","state":"%s","health":"%s","probe":"%s","detail":"%s"}' \
            "$service" "$state" "$health" "$probe" "$(json_escape "$detail")"
    done <<<"$results"
    printf ']}\n'
}

# The named services, or the built-in ones and every other service that has
# a container in this project, but for IGNORED (one a line).
# Usage: services_to_check LISTING IGNORED [SERVICE...]   (LISTING: project_containers)
services_to_check() {
    local listing="$1" ignored="$2"
    shift 2
    if (($# > 0)); then
        printf '%s\n' "$@"
    else
        { printf '%s\n' "${BUILTIN_SERVICES[@]}"; project_services "$listing"; } |
            awk -v ignored="$ignored" '
                BEGIN { n = split(ignored, name, "\n"); for (i = 1; i <= n; i++) skip[name[i]] = 1 }
                !($0 in skip) && !seen[$0]++'
    fi
}

# "redis exited; langfuse running, health starting" for the services of
# check_services lines whose probe failed.
not_yet_healthy() {
    awk '$4 != "ok" { printf "%s%s %s%s", sep, $1, $2, ($3 == "none" ? "" : ", health " $3); sep = "; " }' <<<"$1"
}

# The services of LISTING that are no longer in the configuration, by what
# start.sh remembered of it (lib/services.sh): none when it remembered
# nothing, or the configuration changed since. Built-in services are always
# checked.
# Usage: orphans_in LISTING
orphans_in() {
    local known
    # Only services of the user's own can be left over: without such a
    # container there is nothing to look up.
    awk -v builtin=" ${BUILTIN_SERVICES[*]} " 'NF >= 2 && !index(builtin, " " $2 " ") { found = 1 }
        END { exit !found }' <<<"$1" || return 0
    known="$(remembered_services)" || return 0
    orphan_services "$1" "$known" | grep -vxF -f <(printf '%s\n' "${BUILTIN_SERVICES[@]}") || true
}

main() {
    local wait=false timeout=120 json=false healthy=true deadline next_report results listing detail
    local -a services=() args checked orphans=()
    split_option_values args "--timeout" "--wait --json --help" "$@"
    set -- "${args[@]}"
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            --wait) wait=true; shift ;;
            --timeout) need_value "$@"; require_seconds "$1" "$2"; timeout="$((10#$2))"; shift 2 ;;
            --json) json=true; shift ;;
            -*) unknown_option "$1" "--wait --timeout --json -h --help" ;;
            *) require_service_syntax "$1"; services+=("$1"); shift ;;
        esac
    done
    # A name that is not built in is looked up before .env.infra is read, as
    # a usage error it is.
    if [[ -n "$(non_builtin_names "${services[@]}")" ]]; then
        detect_compose
        require_services_exist "${services[@]}"
    fi
    needs env engine own-stack
    listing="$STACK_LISTING"
    detail="$STACK_DETAIL"
    if ((${#services[@]} == 0)); then
        mapfile -t orphans < <(orphans_in "$listing")
        ((${#orphans[@]} == 0)) ||
            warn "not checked, no longer in the configuration: $(orphans_and_how_to_remove_them "${orphans[@]}")"
    fi
    mapfile -t checked < <(services_to_check "$listing" "$(printf '%s\n' "${orphans[@]}")" "${services[@]}")
    deadline=$((SECONDS + timeout))
    next_report=$((SECONDS + PROGRESS_SECONDS))
    until results="$(check_services "$detail" "${checked[@]}")"; do
        if ! $wait || ((SECONDS >= deadline)); then
            healthy=false
            break
        fi
        # On stderr: stdout is the table, or JSON for a tool.
        if ((SECONDS >= next_report)); then
            info "  still waiting ($((SECONDS + timeout - deadline))s of ${timeout}s): $(not_yet_healthy "$results")" >&2
            next_report=$((SECONDS + PROGRESS_SECONDS))
        fi
        sleep 1
        detail="$(project_containers_in_detail)"
    done
    if $json; then
        print_json "$results" "$healthy"
    else
        print_table "$results"
    fi
    $healthy || exit "$EXIT_FAILURE"
}

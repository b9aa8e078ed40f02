#!/usr/bin/env bash
# Is the stack usable? Container state, Docker health and a real client probe
# per service; exit 0 only if every checked service is healthy.
# shellcheck source=scripts/lib/all.sh
source "$(dirname -- "$(readlink -f -- "$0")")/lib/all.sh"

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...] [--wait] [--timeout SECONDS] [--json]

Checks each service (all when none is named: $(known_services | paste -sd ' ' -)):
its container state, Docker's health status, and a probe that does what a
client does with the credentials in .env.infra:
  postgres  an authenticated SELECT 1 on the TransBot database
  redis     an authenticated PING that must answer PONG
  langfuse  GET /api/public/health through the published port

Options:
  --wait               poll until every service is healthy or the timeout passes
  --timeout SECONDS    how long --wait polls (default: 120)
  --json               print JSON for tools instead of a table
  -h, --help           show this help

Exit status: 0 all healthy, 1 not healthy (or Docker unavailable), 2 usage error.
EOF
}

WAIT=false
TIMEOUT=120
JSON=false

VALID_OPTIONS="--wait --timeout --json -h --help"

parse_args() {
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            --wait) WAIT=true; shift ;;
            --timeout) need_value "$@"; require_seconds "$1" "$2"; TIMEOUT="$2"; shift 2 ;;
            --json) JSON=true; shift ;;
            -*) unknown_option "$1" "$VALID_OPTIONS" ;;
            *) add_service "$1"; shift ;;
        esac
    done
}

print_table() {
    local service
    printf '%-10s %-10s %-10s %s\n' SERVICE STATE HEALTH PROBE
    while IFS= read -r service; do
        local probe detail colour=32
        probe="$(result_field "$service" 3)"
        detail="$(result_field "$service" 4)"
        [[ "$probe" == ok ]] || colour=31
        printf '%-10s %-10s %-10s %s\n' "$service" "$(result_field "$service" 1)" \
            "$(result_field "$service" 2)" "$(_paint "$colour" 1 "$probe"): $detail"
    done < <(selected_services)
}

print_json() {
    local service first=true healthy="$1"
    printf '{"healthy":%s,"services":[' "$healthy"
    while IFS= read -r service; do
        $first || printf ','
        first=false
        printf '{"service":"%s","state":"%s","health":"%s","probe":"%s","detail":"%s"}' \
            "$service" "$(result_field "$service" 1)" "$(result_field "$service" 2)" \
            "$(result_field "$service" 3)" "$(json_escape "$(result_field "$service" 4)")"
    done < <(selected_services)
    printf ']}\n'
}

main() {
    local healthy=true deadline
    parse_args "$@"
    require_env
    require_docker
    deadline=$((SECONDS + TIMEOUT))
    until check_services; do
        if ! $WAIT || ((SECONDS >= deadline)); then
            healthy=false
            break
        fi
        sleep 1
    done
    if $JSON; then
        print_json "$healthy"
    else
        print_table
    fi
    $healthy || exit "$EXIT_FAILURE"
}

main "$@"

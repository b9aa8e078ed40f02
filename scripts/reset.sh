#!/usr/bin/env bash
# Deletes the data of the named services (or of the whole stack), after
# saying exactly what goes and asking. The only script that deletes data.
# shellcheck source=scripts/lib/all.sh
source "$(dirname -- "$(readlink -f -- "$0")")/lib/all.sh"

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...] [-y|--yes]

Deletes the data of the named services, or of every service
($(known_services | paste -sd ' ' -)): the contents of ./volumes/<service>.
It lists what it will delete with sizes and asks first. The services are
stopped; .env.infra and other services' data are left alone. Afterwards
./scripts/start.sh brings them up fresh and initialised.

langfuse keeps its data in PostgreSQL (database "langfuse"), so resetting
postgres also clears Langfuse; langfuse is stopped with it.

Options:
  -y, --yes    do not ask (required when there is no terminal to ask on)
  -h, --help   show this help

Exit status: 0 deleted (or nothing to delete), 1 failed or declined,
2 usage error (including no terminal and no --yes).
EOF
}

VALID_OPTIONS="-y --yes -h --help"

parse_args() {
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            -y | --yes) ASSUME_YES=true; shift ;;
            -*) unknown_option "$1" "$VALID_OPTIONS" ;;
            *) add_service "$1"; shift ;;
        esac
    done
}

# Where a service keeps its data, inside its container; empty if nowhere.
data_mount_of() {
    case "$1" in
        postgres) printf '/var/lib/postgresql/data' ;;
        redis) printf '/data' ;;
    esac
}

# The size of a data folder. The files belong to the containers' users
# (uid 70, 999), so a non-root user may need a container to read them.
folder_size() {
    local service="$1" size
    if size="$(du -sh "$REPO_ROOT/volumes/$service" 2>/dev/null)"; then
        printf '%s' "${size%%[[:space:]]*}"
    else
        in_service_container "$service" "du -sh $(data_mount_of "$service") | cut -f1" 2>/dev/null || printf 'unknown size'
    fi
}

# Runs a shell command as root in a throw-away container of SERVICE, with
# the service's volumes mounted; no ports are published, nothing else starts.
in_service_container() {
    compose run --rm --no-deps -T --user 0 --entrypoint sh "$1" -c "$2" </dev/null
}

main() {
    local service targets=() to_stop=()
    parse_args "$@"
    load_env_if_present
    require_docker
    for service in $(selected_services); do
        [[ -n "$(data_mount_of "$service")" ]] || continue
        to_stop+=("$service")
        [[ "$service" != postgres ]] || to_stop+=(langfuse)
        if [[ -d "$REPO_ROOT/volumes/$service" ]] && [[ -n "$(ls -A "$REPO_ROOT/volumes/$service" 2>/dev/null || echo unreadable)" ]]; then
            targets+=("$service")
        fi
    done
    if ((${#targets[@]} == 0)); then
        ok "nothing to delete: $(if ((${#to_stop[@]} > 0)); then printf 'the data folders are empty'; else printf 'langfuse keeps its data in postgres (reset postgres to clear it)'; fi)"
        return 0
    fi
    info "This deletes, for good:"
    for service in "${targets[@]}"; do
        info "  volumes/$service  ($(folder_size "$service"))"
    done
    info "Kept: .env.infra and the data of every other service."
    confirm_destruction "delete this data" "nothing was deleted"
    step "Stopping $(join_by_comma "${to_stop[@]}")..."
    compose stop "${to_stop[@]}" 2>&1 | redact_secrets
    for service in "${targets[@]}"; do
        in_service_container "$service" "find $(data_mount_of "$service") -mindepth 1 -delete" ||
            die "could not delete volumes/$service; it is stopped, see the error above"
        ok "deleted volumes/$service"
    done
    info "Start fresh with: ./scripts/start.sh"
}

main "$@"

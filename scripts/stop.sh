#!/usr/bin/env bash
# Stops the stack (or the named services). Never deletes data.
# shellcheck source=scripts/lib/all.sh
source "$(dirname -- "$(readlink -f -- "$0")")/lib/all.sh"

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...]

Stops the named services, or the whole stack ($(known_services | paste -sd ' ' -)).
With no service named, containers and the network are removed. Data in
./volumes is always kept: ./scripts/start.sh picks up where you left off.

Options:
  -h, --help   show this help

Exit status: 0 stopped, 1 failed, 2 usage error.
EOF
}

# Langfuse keeps running without its database, but every request fails
# until postgres is back: say so rather than let it look like a Langfuse bug.
warn_about_dependents() {
    local service
    for service in "${SERVICES[@]}"; do
        if [[ "$service" == postgres ]] && ! printf '%s\n' "${SERVICES[@]}" | grep -qx langfuse &&
            [[ "$(container_status "$(container_of langfuse)")" == running* ]]; then
            warn "langfuse keeps running but cannot reach its database until postgres is started again (./scripts/start.sh postgres)"
        fi
    done
}

main() {
    parse_services "$@"
    load_env_if_present
    require_docker
    if ((${#SERVICES[@]} == 0)); then
        step "Stopping the stack (project $(project_name)); data in ./volumes is kept..."
        compose down 2>&1 | redact_secrets
    else
        warn_about_dependents
        step "Stopping $(join_by_comma "${SERVICES[@]}"); data is kept..."
        compose stop "${SERVICES[@]}" 2>&1 | redact_secrets
    fi
    ok "stopped"
}

main "$@"

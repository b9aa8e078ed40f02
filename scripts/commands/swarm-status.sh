# shellcheck shell=bash
# The team stack on the swarm: each service, and each of its tasks with its
# node, states and health; exit 0 only when every service is healthy.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME

Shows the stack "$(swarm_stack)" (COMPOSE_PROJECT_NAME) on the swarm of the
Docker engine docker talks to, which must be a swarm manager: for each
service, how many of its tasks run healthy and its last update; for each
task, its node, desired and current state, health, and its error (also of
the latest failed task). A task of the stack runs only once its
healthcheck passed (the swarm replaces one that turns unhealthy).

Options:
  -h, --help   show this help

Exit status: 0 every service runs all its tasks healthy and no update is
under way, 1 not (or not deployed, or not a manager), 2 usage error.
EOF
}

# "healthy" for a running task (the swarm reports running only after the
# healthcheck passed), "starting" before, "-" otherwise.
task_health() {
    case "$1" in
        Running*) printf 'healthy' ;;
        Starting*) printf 'starting' ;;
        *) printf -- '-' ;;
    esac
}

main() {
    local stack services name running wanted state healthy=true task node desired current error
    parse_no_arguments "$@"
    needs env-if-present engine swarm-manager
    stack="$(swarm_stack)"
    services="$(swarm_services "$stack")"
    [[ -n "$services" ]] || die "the stack $stack is not deployed on this swarm; deploy it with ./scripts/swarm-deploy.sh"
    printf '%-10s %-8s %s\n' SERVICE HEALTHY "LAST UPDATE"
    while read -r name running wanted state _; do
        ((running == wanted)) || healthy=false
        [[ "$state" != updating && "$state" != rollback_started ]] || healthy=false
        printf '%-10s %-8s %s\n' "${name#"${stack}_"}" "$running/$wanted" "${state//_/ }"
    done <<<"$services"
    printf '\n%-22s %-12s %-8s %-9s %-28s %s\n' TASK NODE DESIRED HEALTH CURRENT ERROR
    while IFS=$'\t' read -r task node desired current error; do
        printf '%-22s %-12s %-8s %-9s %-28s %s\n' "${task#"${stack}_"}" "${node:--}" "$desired" \
            "$(task_health "$current")" "$current" "${error:--}"
    done < <(swarm_tasks "$stack")
    if $healthy; then
        ok "every service of $stack runs all its tasks, healthy"
    else
        error "the stack $stack is not healthy (see above)"
        exit "$EXIT_FAILURE"
    fi
}

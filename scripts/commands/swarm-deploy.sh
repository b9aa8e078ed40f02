# shellcheck shell=bash
# Deploys the team stack (deploy/swarm/stack.yml) on the swarm whose manager
# docker talks to, from this clone's .env.infra, and waits until every
# service runs all its tasks, each healthy.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [--timeout SECONDS] [--resolve-image]

Deploys deploy/swarm/stack.yml as the stack "$(swarm_stack)" (COMPOSE_PROJECT_NAME)
on the swarm of the Docker engine docker talks to (DOCKER_HOST or the
Docker context), which must be a swarm manager. From .env.infra:
  - each password becomes a Docker secret, created from stdin, named after
    a salted hash of its value (a changed password is a new secret, and the
    services roll over to it; once the stack is healthy, the older versions
    no service uses any more are removed);
  - the images, LANGFUSE_REPLICAS, LANGFUSE_PORT, LANGFUSE_URL (the URL
    browsers use: your load balancer's) and the other settings.
The nodes need their labels first (docker node update --label-add ...):
transbot.postgres=true and transbot.redis=true on one node each (their data
stays there), transbot.langfuse=true on at least LANGFUSE_REPLICAS nodes.
Every node must already have the images (docker pull or docker load on
each); the manager does not ask a registry unless --resolve-image is given.

It then waits until every service runs all its tasks, each healthy, with
no update under way (a progress line every 10 s), and prints the Langfuse
URLs. An update whose new task never becomes healthy is rolled back by the
swarm itself; this command then fails, saying so.

Options:
  --timeout SECONDS   how long to wait for the stack (default: 300)
  --resolve-image     let the manager ask the registry for each image's
                      digest (docker stack deploy --resolve-image always)
  -h, --help          show this help

Exit status: 0 deployed and healthy, 1 refused or not healthy in time,
2 usage error, 130 interrupted.
EOF
}

# Waits until the stack has converged; on timeout or a rollback, prints
# what each task is doing and fails.
# Usage: wait_for_swarm_stack STACK BEFORE TIMEOUT
wait_for_swarm_stack() {
    local stack="$1" before="$2" timeout="$3" began=$SECONDS next_progress=10 waiting status
    while :; do
        status=0
        waiting="$(swarm_waiting_for "$stack" "$before")" || status=$?
        if ((status == 3)); then
            swarm_diagnostics "$stack" >&2
            die "$waiting"
        fi
        ((status == 0)) || die "could not read the stack's services (see above)"
        [[ -n "$waiting" ]] || return 0
        if ((SECONDS - began >= timeout)); then
            swarm_diagnostics "$stack" >&2
            die "the stack did not become healthy within $timeout s (waiting for: $waiting); see the tasks above, then run ./scripts/$SCRIPT_NAME again (--timeout for longer)"
        fi
        if ((SECONDS - began >= next_progress)); then
            info "  ... $((SECONDS - began)) s: waiting for $waiting"
            next_progress=$((next_progress + 10))
        fi
        # Two docker calls a second on the manager: a deploy returns within
        # about a second of the stack converging.
        sleep 1
    done
}

main() {
    local timeout=300 resolve=never stack nodes before address
    local -a args
    split_option_values args "--timeout" "--resolve-image --help" "$@"
    set -- "${args[@]}"
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            --timeout) need_value "$@"; require_seconds "$1" "$2"; timeout="$2"; shift 2 ;;
            --resolve-image) resolve=always; shift ;;
            -*) unknown_option "$1" "--timeout --resolve-image -h --help" ;;
            *) usage_error "unexpected argument '$(printable "$1")'" ;;
        esac
    done
    needs env engine swarm-manager lock
    [[ "$(setting LANGFUSE_REPLICAS)" =~ ^[1-9][0-9]{0,2}$ ]] ||
        die "LANGFUSE_REPLICAS must be a whole number from 1, not '$(printable "$(setting LANGFUSE_REPLICAS)")'; fix it in .env.infra; nothing was deployed"
    stack="$(swarm_stack)"
    nodes="$(swarm_nodes)"
    require_swarm_labels "$nodes" "$(setting LANGFUSE_REPLICAS)"
    before="$(swarm_services "$stack")"
    step "Deploying stack $stack to the swarm..."
    create_swarm_secrets "$stack"
    export_swarm_settings
    docker stack deploy --resolve-image "$resolve" --prune -c "$SWARM_STACK_FILE" "$stack" ||
        die "docker stack deploy failed (see above)"
    step "Waiting for every service to run all its tasks, healthy (up to $timeout s)..."
    wait_for_swarm_stack "$stack" "$before" "$timeout"
    prune_swarm_secrets "$stack"
    ok "stack $stack is deployed and healthy"
    info "Langfuse (put your load balancer in front of these):"
    while IFS= read -r address; do
        [[ -z "$address" ]] || info "  http://$address:$(setting LANGFUSE_PORT)"
    done < <(swarm_ui_addresses "$stack" "$nodes")
    info "PostgreSQL and Redis: on the overlay network ${stack}_transbot only (postgres:5432, redis:6379)."
}

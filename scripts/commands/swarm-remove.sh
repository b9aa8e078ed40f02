# shellcheck shell=bash
# Removes the team stack from the swarm and waits until its tasks are gone,
# keeping every volume; with --delete-data, and only after listing it and
# asking, it then empties the data volumes on their nodes.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [--delete-data [-y|--yes]] [--timeout SECONDS]

Removes the stack "$(swarm_stack)" (COMPOSE_PROJECT_NAME) from the swarm of the
Docker engine docker talks to (a swarm manager): its services and network,
then waits until every task has stopped. The data stays in the volumes
$(swarm_stack)_postgres_data and $(swarm_stack)_redis_data on the nodes labelled
transbot.postgres and transbot.redis (Langfuse keeps its data in
PostgreSQL), and the secrets stay too: ./scripts/swarm-deploy.sh finds them.

With --delete-data it also deletes that data, after listing each volume
with its node and asking: a one-off task on each volume's node empties it.

Options:
  --delete-data        delete the data volumes' contents too (asks first)
  -y, --yes            do not ask (required without a terminal)
  --timeout SECONDS    how long to wait for the tasks to stop (default: 120)
  -h, --help           show this help

Exit status: 0 removed, 1 failed or declined, 2 usage error (including
--delete-data with no terminal and no --yes), 130 interrupted.
EOF
}

# Starts the one-off task that empties VOLUME on the node labelled LABEL
# (the manager cannot reach another node's volumes), running IMAGE's find.
# Usage: start_emptying STACK VOLUME LABEL IMAGE
start_emptying() {
    local stack="$1" volume="$2" label="$3" image="$4" job
    job="${stack}_delete_${volume#"${stack}_"}"
    docker service rm "$job" >/dev/null 2>&1 || true
    docker service create --detach --quiet --name "$job" --mode replicated-job --no-resolve-image \
        --constraint "node.labels.$label==true" --mount "type=volume,source=$volume,target=/data" \
        --entrypoint find "$image" /data -mindepth 1 -delete >/dev/null ||
        die "could not start the task that deletes $volume (see above)"
}

# Waits until the task start_emptying started for VOLUME has completed (by
# TIMEOUT s after BEGAN, a $SECONDS), then removes it.
# Usage: wait_emptied STACK VOLUME TIMEOUT BEGAN
wait_emptied() {
    local stack="$1" volume="$2" timeout="$3" began="$4" job state
    job="${stack}_delete_${volume#"${stack}_"}"
    while state="$(docker service ps --format '{{.CurrentState}}' "$job" 2>/dev/null | head -n 1)" &&
        [[ "$state" != Complete* ]]; do
        if [[ "$state" == Failed* || "$state" == Rejected* ]] || ((SECONDS - began >= timeout)); then
            docker service ps --no-trunc --format '  {{.Node}}: {{.CurrentState}} {{.Error}}' "$job" >&2 || true
            docker service rm "$job" >/dev/null 2>&1 || true
            die "could not delete the data in $volume (see above)"
        fi
        sleep 1
    done
    docker service rm "$job" >/dev/null
    ok "deleted the data in $volume"
}

# Empties both data volumes, their tasks running side by side.
# Usage: empty_volumes STACK TIMEOUT
empty_volumes() {
    local stack="$1" timeout="$2" began=$SECONDS
    start_emptying "$stack" "${stack}_postgres_data" transbot.postgres "$(setting POSTGRES_IMAGE)"
    start_emptying "$stack" "${stack}_redis_data" transbot.redis "$(setting REDIS_IMAGE)"
    wait_emptied "$stack" "${stack}_postgres_data" "$timeout" "$began"
    wait_emptied "$stack" "${stack}_redis_data" "$timeout" "$began"
}

main() {
    local delete_data=false assume_yes=false timeout=120 stack nodes
    local -a args
    split_option_values args "--timeout" "--delete-data --yes --help" "$@"
    set -- "${args[@]}"
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            --delete-data) delete_data=true; shift ;;
            -y | --yes) assume_yes=true; shift ;;
            --timeout) need_value "$@"; require_seconds "$1" "$2"; timeout="$2"; shift 2 ;;
            -*) unknown_option "$1" "--delete-data -y --yes --timeout -h --help" ;;
            *) usage_error "unexpected argument '$(printable "$1")'" ;;
        esac
    done
    ! $assume_yes || $delete_data || usage_error "--yes confirms --delete-data; without it nothing is deleted"
    needs env-if-present engine swarm-manager lock
    stack="$(swarm_stack)"
    if $delete_data; then
        nodes="$(swarm_nodes)"
        info "This deletes, for good, after removing the stack:"
        info "  ${stack}_postgres_data on $(nodes_with_label "$nodes" transbot.postgres | paste -sd ' ' -) (PostgreSQL: TransBot's and Langfuse's data)"
        info "  ${stack}_redis_data on $(nodes_with_label "$nodes" transbot.redis | paste -sd ' ' -) (Redis)"
        info "Kept: .env.infra and the secrets."
        confirm_destruction "$assume_yes" "delete this data" "nothing was removed or deleted"
    fi
    if [[ -n "$(swarm_services "$stack")" ]]; then
        step "Removing stack $stack..."
        docker stack rm "$stack" >/dev/null || die "docker stack rm failed (see above)"
    fi
    wait_for_stack_gone "$stack" "$timeout"
    ok "stack $stack removed"
    if ! $delete_data; then
        info "Its data is kept in the volumes ${stack}_postgres_data and ${stack}_redis_data on the nodes labelled transbot.postgres and transbot.redis; ./scripts/swarm-deploy.sh finds it."
        return 0
    fi
    empty_volumes "$stack" "$timeout"
    info "A new ./scripts/swarm-deploy.sh starts with empty databases."
}

# shellcheck shell=bash
# A stack belongs to its clone, and one data folder to one server.
# Sourced, never run.

# --- Whose stack is it? -------------------------------------------------------------

# Compose labels every container with the folder it was started from. A
# second clone (a worktree, an old checkout) with the same project name would
# otherwise recreate the first one's containers on its own volumes/ and
# .env.infra: the first clone's data would seem gone and its passwords wrong.
# CONTAINERS is a project_containers listing (`needs own-stack` makes one).
# Usage: require_own_stack_in CONTAINERS
require_own_stack_in() {
    local containers="$1" line folder
    local -A seen=()
    while IFS= read -r line; do
        # "ID SERVICE FOLDER": the folder may hold spaces.
        [[ "$line" == *" "*" "* ]] || continue
        folder="${line#* }"
        folder="${folder#* }"
        [[ -n "$folder" && -z "${seen[$folder]:-}" ]] || continue
        seen[$folder]=1
        [[ ! "$folder" -ef "$REPO_ROOT" ]] || continue
        if [[ -d "$folder" ]]; then
            die "the stack '$(project_name)' is running from another clone, $(printable "$folder"), with that clone's data and passwords; stop it there (cd $(printable "$folder") && ./scripts/stop.sh), or run this clone as a stack of its own: set COMPOSE_PROJECT_NAME (e.g. COMPOSE_PROJECT_NAME=transbot2) and free ports (POSTGRES_PORT, LANGFUSE_PORT, REDIS_PORT) in this clone's .env.infra"
        fi
        die "the stack '$(project_name)' was started from $(printable "$folder"), which no longer exists; remove its containers (data there is gone with its folder): docker rm -f \$(docker ps -aq --filter label=com.docker.compose.project=$(project_name)), or set COMPOSE_PROJECT_NAME in .env.infra to run this clone's stack beside it"
    done <<<"$containers"
}

# --- One data folder, one server ------------------------------------------------------

# The engine's answers that start.sh's checks before `up` read (each
# built-in service's own, its ask_start hook: PostgreSQL's image major) are
# asked at once, beside the look at the project's containers: each
# `docker` costs ~20 ms here, and one after the other they were a tenth of
# a warm start's overhead. An answer nobody takes (the stack was running
# healthy) is dropped at exit.
ask_start_checks_ahead() {
    local service
    command -v docker >/dev/null 2>&1 || return 0
    for service in "${BUILTIN_SERVICES[@]}"; do
        ! service_has ask_start "$service" || service_hook "$service" ask_start
    done
}

# Two PostgreSQL (or Redis) servers on one data folder corrupt it. Compose
# tells stacks apart by project name only, so in this very clone another
# COMPOSE_PROJECT_NAME, a regenerated .env.infra or a by-hand `docker compose
# up` named after the folder would start a second server on volumes/. So
# before a server or a throw-away container is started on the data folder
# of one of SERVICES, the engine's running containers (RUNNING, from
# running_containers) are asked what they mount, compared by inode (-ef: a
# symlink or another spelling of the path is the same folder). This
# project's own container of that service is no conflict (Compose reuses
# or recreates it); any other is refused, naming it, before anything starts.
# Usage: require_free_data_folders RUNNING SERVICE...
require_free_data_folders() {
    local running="$1" ours service folder line name project owner from source
    local -a ids mounts=()
    shift
    ours="$(project_name)"
    mapfile -t ids < <(running_ids "$running")
    ((${#ids[@]} > 0)) || return 0
    for service in "$@"; do
        folder="$REPO_ROOT/volumes/$(service_field "$service" data)"
        # Not built in, or no data folder yet: nothing can have it mounted.
        [[ -n "$(service_field "$service" data)" && -d "$folder" ]] || continue
        # Asked once, and only when there is a folder to protect.
        ((${#mounts[@]} > 0)) || mapfile -t mounts < <(container_mounts "${ids[@]}")
        for line in "${mounts[@]}"; do
            IFS=$'\x1f' read -r name project owner from source <<<"$line"
            [[ -n "$source" && "$source" -ef "$folder" ]] || continue
            [[ "$project" != "$ours" || "$owner" != "$service" ]] || continue
            die "volumes/$(service_field "$service" data) is in use by the running container $(_container_described "${name#/}" "$project" "$from"), and a second server on one data folder corrupts it; nothing was started or changed. $(_how_to_stop "${name#/}" "$project" "$from"), or run this stack from a clone of its own"
        done
    done
}

# "NAME (project P, started from FOLDER)", as far as the labels tell.
_container_described() {
    local name="$1" project="$2" from="$3"
    if [[ -z "$project" ]]; then
        printf '%s (not started by Compose)' "$(printable "$name")"
    else
        printf '%s (project %s, started from %s)' "$(printable "$name")" "$(printable "$project")" "$(printable "${from:-an unknown folder}")"
    fi
}

# What to type to stop the container NAME and, if it has one, its stack.
_how_to_stop() {
    local name="$1" project="$2" from="$3"
    if [[ -n "$project" && -n "$from" && -x "$from/scripts/stop.sh" ]]; then
        printf 'Stop that stack first (cd %s && COMPOSE_PROJECT_NAME=%s ./scripts/stop.sh, or docker stop %s)' \
            "$(printable "$(printf '%q' "$from")")" "$(printable "$project")" "$(printable "$name")"
    else
        printf 'Stop that container first (docker stop %s)' "$(printable "$name")"
    fi
}

# --- A throw-away container on a service's data -------------------------------

# Runs a shell command as root in a throw-away container of SERVICE, with
# the service's volumes mounted; no ports are published, nothing else
# starts. Compose creates the project's network for it if the stack is
# down: that network is removed again, so the stack is left as it was.
# Stdin is the caller's. Refused, before anything is created, while a
# container other than this project's own SERVICE has its data folder
# mounted (see require_free_data_folders).
# Usage: in_service_container SERVICE COMMAND
in_service_container() {
    local service="$1" command="$2" networks_before status=0
    require_free_data_folders "$(running_containers)" "$service"
    networks_before="$(project_networks 2>/dev/null)" || networks_before=""
    compose run --rm --no-deps -T --user 0 --entrypoint sh "$service" -c "$command" || status=$?
    if [[ -z "$networks_before" ]]; then
        project_networks 2>/dev/null | xargs -r docker network rm >/dev/null 2>&1 || true
    fi
    return "$status"
}

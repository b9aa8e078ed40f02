# shellcheck shell=bash
# The team stack on a Docker Swarm (deploy/swarm/stack.yml): the manager
# check, the nodes and their labels, the versioned secrets and configs, the
# stack's variables, and what "converged" means. Used by swarm-deploy.sh,
# swarm-status.sh and swarm-remove.sh. The engine is the one docker talks to
# (DOCKER_HOST, the context). Loaded after docker.sh and env.sh (the stack
# is named like the project; logs are redacted), before needs.sh, whose
# swarm-manager step is require_swarm_manager. Sourced, never run.

SWARM_STACK_FILE="$REPO_ROOT/deploy/swarm/stack.yml"
# The node labels the stack's placement constraints name.
readonly -a SWARM_LABELS=(transbot.postgres transbot.redis transbot.langfuse)
# The passwords of .env.infra that become Docker secrets; the stack names
# each through the variable NAME_SECRET.
readonly -a SWARM_SECRETS=(POSTGRES_PASSWORD LANGFUSE_DB_PASSWORD REDIS_PASSWORD LANGFUSE_SECRET LANGFUSE_SALT
    LANGFUSE_ENCRYPTION_KEY LANGFUSE_SECRET_KEY LANGFUSE_ADMIN_PASSWORD)
# The settings stack.yml reads (besides the secrets' names and
# CONFIGS_VERSION), from .env.infra, the shell, or lib/defaults.sh.
readonly -a SWARM_SETTINGS=(POSTGRES_IMAGE LANGFUSE_IMAGE REDIS_IMAGE LANGFUSE_REPLICAS LANGFUSE_PORT LANGFUSE_URL
    POSTGRES_USER POSTGRES_DB REDIS_APPENDFSYNC LANGFUSE_ADMIN_EMAIL LANGFUSE_DISABLE_SIGNUP)

# The stack's name: the project's (COMPOSE_PROJECT_NAME, else transbot).
swarm_stack() {
    project_name
}

# Exits 1 unless the engine is a manager of an active swarm: only a
# manager can deploy, list or remove a stack.
require_swarm_manager() {
    local state
    state="$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' 2>/dev/null)" ||
        die "could not ask the Docker engine about its swarm (docker info failed); check Docker, then run ./scripts/$SCRIPT_NAME again"
    case "$state" in
        "active true") ;;
        "active "*) die "this Docker engine is a swarm worker, not a manager; point DOCKER_HOST (or the Docker context) at a manager (docker node ls on one lists them); nothing was changed" ;;
        *) die "this Docker engine is not part of a swarm (state: ${state%% *}); create one with docker swarm init, or point DOCKER_HOST (or the Docker context) at a swarm manager; nothing was changed" ;;
    esac
}

# Every node of the swarm, one a line: "ID HOSTNAME ADDRESS LABELS", LABELS
# being the stack's labels the node carries with the value true, comma
# separated ("-" for none). A manager may report 0.0.0.0 as its own
# address: its manager address is taken then.
swarm_nodes() {
    local -a ids
    mapfile -t ids < <(docker node ls -q) || die "could not list the swarm's nodes (docker node ls failed, see above)"
    local template='{{.ID}} {{.Description.Hostname}} {{.Status.Addr}} {{if .ManagerStatus}}{{.ManagerStatus.Addr}}{{else}}-{{end}}'
    local label
    for label in "${SWARM_LABELS[@]}"; do
        template+=" {{with index .Spec.Labels \"$label\"}}{{if eq . \"true\"}}$label{{else}}-{{end}}{{else}}-{{end}}"
    done
    docker node inspect --format "$template" "${ids[@]}" | awk '{
        address = $3
        if (address == "0.0.0.0" && $4 != "-") { address = $4; sub(/:[0-9]+$/, "", address) }
        labels = ""
        for (i = 5; i <= NF; i++) if ($i != "-") labels = labels (labels == "" ? "" : ",") $i
        print $1, $2, address, (labels == "" ? "-" : labels)
    }'
}

# The hostnames of the nodes in NODES (swarm_nodes) that carry LABEL, one a line.
# Usage: nodes_with_label NODES LABEL
nodes_with_label() {
    awk -v label="$2" '{ n = split($4, l, ","); for (i = 1; i <= n; i++) if (l[i] == label) print $2 }' <<<"$1"
}

# Exits 1 unless the labels place every service: one node each for
# PostgreSQL and Redis (their data lives on it), and at least as many
# Langfuse nodes as replicas (one replica per node).
# Usage: require_swarm_labels NODES REPLICAS
require_swarm_labels() {
    local nodes="$1" replicas="$2" label count
    local -a labelled
    for label in "${SWARM_LABELS[@]}"; do
        mapfile -t labelled < <(nodes_with_label "$nodes" "$label")
        count="${#labelled[@]}"
        ((count > 0)) ||
            die "no node carries the label $label=true; add it on a manager: docker node update --label-add $label=true NODE (docker node ls lists the nodes); nothing was deployed"
        if [[ "$label" != transbot.langfuse ]] && ((count > 1)); then
            die "$count nodes carry $label=true ($(join_by_comma "${labelled[@]}")); its data lives on one node, so remove the label from all but one (docker node update --label-rm $label NODE); nothing was deployed"
        fi
    done
    mapfile -t labelled < <(nodes_with_label "$nodes" transbot.langfuse)
    ((replicas <= ${#labelled[@]})) ||
        die "LANGFUSE_REPLICAS=$replicas but only ${#labelled[@]} node(s) carry transbot.langfuse=true (one replica per node); label more nodes or lower LANGFUSE_REPLICAS; nothing was deployed"
}

# SHA-256 of stdin, in hex.
_sha256_stdin() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum | cut -d' ' -f1
    else
        shasum -a 256 | cut -d' ' -f1
    fi
}

# The name of the secret that holds the value of NAME (a password of
# .env.infra): STACK_name_<12 hex>. The hex is a hash of the value salted
# with this clone's LANGFUSE_SALT (secret, random, never rotated): a changed
# password gets a new name (secrets are immutable), and the name tells
# nothing about the password to whoever lists the secrets. printf is a
# builtin: the value is never an argument of a process.
# Usage: secret_name STACK NAME
secret_name() {
    local stack="$1" name="$2" lower
    lower="$(tr '[:upper:]' '[:lower:]' <<<"$name")"
    printf '%s_%s_%s' "$stack" "$lower" "$(printf '%s\0%s' "$LANGFUSE_SALT" "${!name}" | _sha256_stdin | cut -c1-12)"
}

# Creates (from stdin) each secret the stack needs that does not exist yet,
# and exports each NAME_SECRET variable naming it for stack.yml.
# Usage: create_swarm_secrets STACK
create_swarm_secrets() {
    local stack="$1" name versioned created=0
    local -A existing=()
    while IFS= read -r versioned; do
        [[ -z "$versioned" ]] || existing[$versioned]=1
    done < <(docker secret ls --format '{{.Name}}' --filter "label=transbot.stack=$stack") ||
        die "could not list the swarm's secrets (docker secret ls failed, see above); nothing was deployed"
    for name in "${SWARM_SECRETS[@]}"; do
        versioned="$(secret_name "$stack" "$name")"
        if [[ -z "${existing[$versioned]:-}" ]]; then
            printf '%s' "${!name}" | docker secret create --label "transbot.stack=$stack" "$versioned" - >/dev/null ||
                die "could not create the secret $versioned (see above); nothing was deployed"
            created=$((created + 1))
        fi
        export "${name}_SECRET=$versioned"
    done
    if ((created > 0)); then
        info "Created $created secret(s) from .env.infra."
    fi
}

# The names of the secrets any service of the swarm uses, one a line (a
# staging TransBot's service may use an older version of a password).
swarm_secrets_in_use() {
    local listed
    local -a ids
    listed="$(docker service ls -q)" || return 1
    [[ -n "$listed" ]] || return 0
    mapfile -t ids <<<"$listed"
    docker service inspect --format '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{println .SecretName}}{{end}}' "${ids[@]}"
}

# Removes the older versions of STACK's secrets (labelled transbot.stack=STACK
# by create_swarm_secrets) that the stack no longer names (the NAME_SECRET
# variables) and no service uses: what changed passwords left behind. Run
# after a deploy converged, so that no task still needs one. Another
# stack's secrets, and any secret still in use, are kept; a removal that
# fails is only a warning (the deploy itself succeeded).
# Usage: prune_swarm_secrets STACK
prune_swarm_secrets() {
    local stack="$1" name secret used listed removed=0
    local -A keep=()
    for name in "${SWARM_SECRETS[@]}"; do
        secret="${name}_SECRET"
        keep[${!secret}]=1
    done
    if ! used="$(swarm_secrets_in_use)" ||
        ! listed="$(docker secret ls --format '{{.Name}}' --filter "label=transbot.stack=$stack")"; then
        warn "could not list the swarm's services or secrets; older versions of the passwords are kept (docker secret ls)"
        return 0
    fi
    while IFS= read -r secret; do
        [[ -n "$secret" ]] && keep[$secret]=1
    done <<<"$used"
    while IFS= read -r secret; do
        [[ -n "$secret" && -z "${keep[$secret]:-}" ]] || continue
        if docker secret rm "$secret" >/dev/null; then
            removed=$((removed + 1))
        else
            warn "could not remove the unused secret $secret (see above); remove it later with docker secret rm $secret"
        fi
    done <<<"$listed"
    if ((removed > 0)); then
        info "Removed $removed older secret version(s) no service uses."
    fi
}

# The files the stack's configs are made from, one a line (absolute).
swarm_config_files() {
    awk '/^configs:/ { in_configs = 1; next } /^[a-z]/ { in_configs = 0 }
         in_configs && $1 == "file:" { print $2 }' "$SWARM_STACK_FILE" |
        while IFS= read -r file; do printf '%s\n' "$(dirname -- "$SWARM_STACK_FILE")/$file"; done
}

# A hash of the config files: part of every config's name (configs are
# immutable, so a changed file must get a new name).
configs_version() {
    local -a files
    mapfile -t files < <(swarm_config_files)
    cat -- "${files[@]}" | _sha256_stdin | cut -c1-12
}

# Exports the settings stack.yml reads, each its value or default.
export_swarm_settings() {
    local name
    for name in "${SWARM_SETTINGS[@]}"; do
        export "$name=$(setting "$name")"
    done
    export LANGFUSE_PUBLIC_KEY
    CONFIGS_VERSION="$(configs_version)"
    export CONFIGS_VERSION
}

# The stack's services, one a line: "NAME RUNNING WANTED UPDATE", UPDATE
# being the state of the service's last update (none, updating, completed,
# rollback_started, rollback_completed, paused, ...) and the time it began
# ("-" for none), e.g. "transbot_langfuse 2 2 completed 2024-05-01T10:00:00Z".
# Usage: swarm_services STACK
swarm_services() {
    local -a ids
    mapfile -t ids < <(docker service ls -q --filter "label=com.docker.stack.namespace=$1")
    ((${#ids[@]} > 0)) || return 0
    local -A running=()
    local name replicas
    while read -r name replicas; do
        running[$name]="${replicas%%/*}"
    done < <(docker service ls --filter "label=com.docker.stack.namespace=$1" --format '{{.Name}} {{.Replicas}}')
    docker service inspect --format '{{.Spec.Name}} {{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}0{{end}} {{if .UpdateStatus}}{{.UpdateStatus.State}} {{json .UpdateStatus.StartedAt}}{{else}}none -{{end}}' "${ids[@]}" |
        while read -r name replicas state started; do
            printf '%s %s %s %s %s\n' "$name" "${running[$name]:-0}" "$replicas" "${state:-none}" "${started:--}"
        done | sort
}

# What the stack still waits for, one line (empty when converged: every
# service runs as many tasks as it wants, each healthy, no update under
# way). BEFORE is swarm_services' listing before the deploy: an update
# rolled back since then is a failure, one rolled back before is history.
# Returns 3 when an update was rolled back (the line says which).
# Usage: swarm_waiting_for STACK BEFORE
swarm_waiting_for() {
    local stack="$1" before="$2" name running wanted state started
    local -a missing=()
    while read -r name running wanted state started; do
        [[ -n "$name" ]] || continue
        case "$state" in
            rollback_completed | rollback_paused | paused)
                if ! awk -v n="$name" -v s="$started" '$1 == n && $5 == s { found = 1 } END { exit !found }' <<<"$before"; then
                    printf 'the update of %s was %s by the swarm: a new task did not become healthy (see its error above)\n' "${name#"${stack}_"}" "$([[ "$state" == rollback_completed ]] && echo "rolled back" || echo "paused")"
                    return 3
                fi ;;
            updating | rollback_started) missing+=("${name#"${stack}_"} updating") ;;
        esac
        ((running == wanted)) || missing+=("${name#"${stack}_"} $running/$wanted healthy")
    done < <(swarm_services "$stack")
    ((${#missing[@]} == 0)) || printf '%s\n' "$(join_by_comma "${missing[@]}")"
}

# Each task of the stack's services that should run, and the latest failed
# one of each, one a line: "SERVICE TASK NODE DESIRED CURRENT ERROR" (the
# last two hold spaces; tab separated).
# Usage: swarm_tasks STACK
swarm_tasks() {
    local -a names
    mapfile -t names < <(docker service ls --filter "label=com.docker.stack.namespace=$1" --format '{{.Name}}' | sort)
    ((${#names[@]} > 0)) || return 0
    docker service ps --no-trunc --format '{{.Name}}	{{.Node}}	{{.DesiredState}}	{{.CurrentState}}	{{.Error}}' "${names[@]}" |
        awk -F '\t' '{ split($1, part, "."); task = part[1] "." part[2]
                      if ($3 == "Running" || !seen[task]++) print }'
}

# What a person needs when the stack did not converge: each task's node,
# state and error, and each service's last log lines (passwords masked).
# Usage: swarm_diagnostics STACK
swarm_diagnostics() {
    local stack="$1" name
    info "Tasks (node, desired state, current state, error):"
    swarm_tasks "$stack" | awk -F '\t' '{ printf "  %s on %s: %s, %s%s\n", $1, ($2 == "" ? "no node" : $2), $3, $4, ($5 == "" ? "" : ", error: " $5) }'
    while read -r name _; do
        info "Last log lines of ${name#"${stack}_"}:"
        docker service logs --tail 10 --no-task-ids "$name" 2>&1 | redact_secrets | sed 's/^/  /' || true
    done < <(swarm_services "$stack")
    info "A task's health log is on its node: docker inspect --format '{{json .State.Health}}' CONTAINER there."
}

# The addresses of the nodes that run a Langfuse task, one a line.
# Usage: swarm_ui_addresses STACK NODES
swarm_ui_addresses() {
    local stack="$1" nodes="$2"
    docker service ps --filter desired-state=running --format '{{.Node}}' "${stack}_langfuse" 2>/dev/null |
        awk 'NR == FNR { address[$2] = $3; next } ($1 in address) { print address[$1] }' <(printf '%s\n' "$nodes") -
}

# Waits until the stack's tasks are gone after `docker stack rm` (it
# returns at once; the tasks stop later), or TIMEOUT seconds pass.
# Usage: wait_for_stack_gone STACK TIMEOUT
wait_for_stack_gone() {
    local stack="$1" timeout="$2" began=$SECONDS
    while [[ -n "$(docker stack ps -q "$stack" 2>/dev/null)$(docker network ls -q --filter "label=com.docker.stack.namespace=$stack")" ]]; do
        ((SECONDS - began < timeout)) ||
            die "the tasks of stack $stack are still stopping after $timeout s (docker stack ps $stack); run ./scripts/$SCRIPT_NAME again to wait longer"
        sleep 1
    done
}

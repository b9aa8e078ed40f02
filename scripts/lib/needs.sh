# shellcheck shell=bash
# What a command needs before it acts, said once, on one line of its main:
#   needs env engine lock own-stack
# The steps run in the one order below, whatever order they are named in:
# the order is what makes the checks right, so no command builds its own.
#   1. the settings: .env.infra read and checked first, so a broken file
#      is reported as such before Compose or Docker trip over it;
#   2. Docker (and Compose), then the configuration as Compose resolves
#      it, and the names given on the command line checked against it:
#      usage errors and a stopped daemon come before any wait;
#   2b. for the swarm commands, that engine is a swarm manager;
#   3. the clone's lock: one command at a time changes the stack, and no
#      command waits for it only to fail on a check it could have made;
#   4. under the lock, a first start creates .env.infra (two starts at once
#      must not both generate passwords);
#   5. the running stack is this clone's, not another's of the same name.
# Sourced, never run.

# What needs leaves for the command: the configuration (model_* format) and
# the project's containers (project_containers format), when it was asked
# for them.
STACK_MODEL=
STACK_LISTING=

# The steps:
#   env                  .env.infra must exist and be valid
#   env-if-present       read it if it exists (stop, logs, reset work without)
#   env-create           create it on a first start, under the lock
#   engine               the docker CLI and a reachable daemon
#   compose              those and Docker Compose
#   model                the resolved configuration, in STACK_MODEL
#   swarm-manager        the engine is a manager of a swarm (the swarm-* commands)
#   lock                 the clone's lock
#   own-stack            the running stack is this clone's (STACK_LISTING)
#   own-stack-if-engine  the same, only when Docker answers (app-env.sh:
#                        without Docker nothing runs that could be another's)
# NAMES after -- must be services of the configuration: checked against
# STACK_MODEL when it was asked for, else Compose is asked only about names
# that are not built in.
# Usage: needs STEP... [-- NAME...]
needs() {
    local -A wanted=()
    local -a names=()
    while (($# > 0)); do
        case "$1" in
            --) shift; names=("$@"); break ;;
            env | env-if-present | env-create | engine | compose | model | swarm-manager | lock | own-stack | own-stack-if-engine)
                wanted[$1]=1; shift ;;
            *) die "needs: no step '$1'" ;;
        esac
    done
    if [[ -n "${wanted[env]:-}" ]]; then
        require_env
    elif [[ -n "${wanted[env-if-present]:-}" ]]; then
        load_env_if_present
    elif [[ -n "${wanted[env-create]:-}" && -f "$ENV_FILE" ]]; then
        prepare_env
    fi
    # The three questions go out together (lib/ahead.sh); each check below
    # takes its answer.
    [[ -z "${wanted[model]:-}" ]] || ask_ahead compose engine model
    if [[ -n "${wanted[compose]:-}${wanted[model]:-}" ]]; then
        require_docker
    elif [[ -n "${wanted[engine]:-}" ]]; then
        require_engine
    fi
    if [[ -n "${wanted[model]:-}" ]]; then
        STACK_MODEL="$(compose_model)"
        ((${#names[@]} == 0)) || require_known_services "$(model_services "$STACK_MODEL")" "${names[@]}"
    else
        require_services_exist "${names[@]}"
    fi
    [[ -z "${wanted[swarm-manager]:-}" ]] || require_swarm_manager
    [[ -z "${wanted[lock]:-}" ]] || take_stack_lock
    [[ -z "${wanted[env-create]:-}" ]] || prepare_env
    if [[ -n "${wanted[own-stack]:-}" ]]; then
        STACK_LISTING="$(project_containers)"
        require_own_stack_in "$STACK_LISTING"
    elif [[ -n "${wanted[own-stack-if-engine]:-}" ]] && command -v docker >/dev/null 2>&1 &&
        STACK_LISTING="$(project_containers 2>/dev/null)"; then
        require_own_stack_in "$STACK_LISTING"
    fi
}

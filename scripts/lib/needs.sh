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
# With as-recorded (start.sh of the whole stack), between 1 and 2: when
# the stack runs healthy as it was recorded for this very configuration
# (lib/model.sh), the lock is taken if it is free, the record stands in
# for steps 2 to 4, and only 5 is checked, on what the look saw.
# Sourced, never run.

# What needs leaves for the command: the configuration (model_* format) and
# the project's containers (project_containers format), when it was asked
# for them.
STACK_MODEL=
STACK_LISTING=
STACK_DETAIL=       # the same containers in project_containers_in_detail format
STACK_AS_RECORDED=false

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
#   as-recorded          start.sh: nothing to start when the stack runs
#                        healthy as recorded (STACK_AS_RECORDED=true)
# NAMES after -- must be services of the configuration: checked against
# STACK_MODEL when it was asked for, else Compose is asked only about names
# that are not built in.
# Usage: needs STEP... [-- NAME...]
needs() {
    local listing
    local -A wanted=()
    local -a names=()
    while (($# > 0)); do
        case "$1" in
            --) shift; names=("$@"); break ;;
            env | env-if-present | env-create | engine | compose | model | swarm-manager | lock | own-stack | own-stack-if-engine | as-recorded)
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
    # start.sh's checks before `up` need the engine's answers: asked now,
    # beside as-recorded's own look (lib/stack.sh).
    [[ -z "${wanted[as-recorded]:-}" ]] || ask_start_checks_ahead
    [[ -z "${wanted[as-recorded]:-}" ]] || ! _as_recorded || return 0
    # Or the record answers for Compose (its version, the model) when it
    # is this configuration's: a start after stop.sh asks Compose nothing
    # before `up`.
    local recorded=false
    [[ -z "${wanted[as-recorded]:-}" ]] || ! use_recorded_answers || recorded=true
    # The three questions go out together (lib/ahead.sh); each check below
    # takes its answer (the engine's was asked by as-recorded's look).
    [[ -z "${wanted[model]:-}" ]] || $recorded || ask_ahead compose engine model
    if [[ -n "${wanted[compose]:-}${wanted[model]:-}" ]]; then
        require_docker
    elif [[ -n "${wanted[engine]:-}" ]]; then
        # The project's containers, asked now, answer both the check (the
        # engine answers: without Compose no version is needed) and the
        # own-stack step.
        if [[ -n "${wanted[own-stack]:-}" ]] && command -v docker >/dev/null 2>&1; then
            _ask detail docker project_containers_in_detail
        fi
        require_engine
    fi
    if [[ -n "${wanted[model]:-}" ]]; then
        if $recorded; then
            STACK_MODEL="$(recorded_model)"
        else
            STACK_MODEL="$(compose_model)"
        fi
        ((${#names[@]} == 0)) || require_known_services "$(model_services "$STACK_MODEL")" "${names[@]}"
    else
        require_services_exist "${names[@]}"
    fi
    [[ -z "${wanted[swarm-manager]:-}" ]] || require_swarm_manager
    [[ -z "${wanted[lock]:-}" ]] || take_stack_lock
    [[ -z "${wanted[env-create]:-}" ]] || prepare_env
    # A first start: the key of the .env.infra it has just created.
    if [[ -n "${wanted[as-recorded]:-}" && -z "$_RECORD_KEY" ]]; then
        _RECORD_KEY="$(record_key)" || _RECORD_KEY=""
    fi
    if [[ -n "${wanted[own-stack]:-}" ]]; then
        # The look of as-recorded, under the lock it took, is current.
        if $_RECORDED_LOOKED && [[ "$_LOCK_FD" != "" ]]; then
            STACK_DETAIL="$_RECORDED_DETAIL"
        elif answer_into listing engine-containers docker 2>/dev/null; then
            # start.sh's look at every container, under the lock (kept for
            # the checks before `up`).
            STACK_DETAIL="$(project_detail_in "$listing")"
        else
            STACK_DETAIL="$(answer detail docker project_containers_in_detail)"
        fi
        STACK_LISTING="$(listing_of_detail "$STACK_DETAIL")"
        require_own_stack_in "$STACK_LISTING"
    elif [[ -n "${wanted[own-stack-if-engine]:-}" ]] && command -v docker >/dev/null 2>&1 &&
        STACK_LISTING="$(project_containers 2>/dev/null)"; then
        require_own_stack_in "$STACK_LISTING"
    fi
}

# The as-recorded step: whether the stack runs healthy as recorded for this
# configuration (running_as_recorded), under the lock, taken only if it is
# free (a command at work may be changing the stack: the normal path waits
# for it). Then the record's model stands in for Compose's, and the
# own-stack check (5) runs on the look's listing. The data-folder, port,
# volumes/ and PostgreSQL-major checks of bring_up guard what a start
# creates or starts; nothing is, and the containers that hold the data
# folders and ports are this stack's own, running healthy as Compose made
# them for this configuration: what those checks would find has already
# started without harm. .env.infra must exist (read at step 1): a first
# start has nothing recorded.
_as_recorded() {
    [[ -f "$ENV_FILE" ]] || return 1
    try_stack_lock_now || return 1
    # Under the lock, so that what it sees is current: the look (at every
    # container: the checks before `up` read the others) goes out now, and
    # the key is computed while the engine answers.
    if command -v docker >/dev/null 2>&1; then
        _ask engine-api docker docker version --format '{{.Server.APIVersion}}'
        _ask engine-containers docker engine_containers
    fi
    _RECORD_KEY="$(record_key)" || _RECORD_KEY=""
    running_as_recorded || return 1
    # shellcheck disable=SC2034 # read by bring_up (lib/lifecycle.sh)
    STACK_AS_RECORDED=true
    STACK_MODEL="$(recorded_model)"
    STACK_DETAIL="$_RECORDED_DETAIL"
    STACK_LISTING="$(listing_of_detail "$_RECORDED_DETAIL")"
    require_own_stack_in "$STACK_LISTING"
}

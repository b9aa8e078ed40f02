# shellcheck shell=bash
# Finding Docker and Compose, choosing the healthcheck path, running Compose
# on this project, and asking the engine about its containers. Sourced,
# never run.

# Set once, by detect_compose and require_daemon.
COMPOSE=()           # the Compose command, as words: (docker compose) or (docker-compose)
COMPOSE_VERSION=""   # e.g. 2.40.3, 5.0.1, 1.29.2
ENGINE_API=""        # the engine's API version, e.g. 1.45
COMPOSE_FILES=()     # -f arguments on the fast path; empty on the portable path

# The overlay that makes healthchecks fast while starting and rare at rest.
readonly FAST_OVERLAY="services/compose/fast-healthchecks.yml"

# The project name: Compose's own variable, else "transbot".
project_name() {
    printf '%s' "${COMPOSE_PROJECT_NAME:-transbot}"
}

# --- Versions -----------------------------------------------------------------

# Whether version HAVE is at least WANT. Understands "v2.40.3", "5.0.1",
# "2.29.7-desktop.1", "1.29.2", "1.45": a leading v and any suffix after the
# numbers are ignored, missing parts count as 0.
version_at_least() {
    local have="${1#v}" want="${2#v}" i
    local -a h w
    IFS=. read -r -a h <<<"${have%%[!0-9.]*}"
    IFS=. read -r -a w <<<"${want%%[!0-9.]*}"
    for i in 0 1 2; do
        ((10#${h[i]:-0} == 10#${w[i]:-0})) && continue
        ((10#${h[i]:-0} > 10#${w[i]:-0}))
        return
    done
}

compose_is_v1() {
    ! version_at_least "$COMPOSE_VERSION" 2
}

# Which healthchecks a stack gets: "fast" (quick probes while a container
# starts, rare ones once it is healthy) needs healthcheck.start_interval,
# which Engine 25 (API 1.44) and Compose 2.24 brought: older engines refuse
# to create such a container, Compose v1 rejects the key, and Compose 2.20
# silently drops it. Everything else gets "portable": the compose file alone.
# TRANSBOT_FAST_PATH=off chooses portable everywhere.
# Usage: healthcheck_path ENGINE_API COMPOSE_VERSION SETTING
healthcheck_path() {
    local api="$1" compose_version="$2" setting="$3"
    case "$setting" in
        off) printf portable; return ;;
        auto | "") ;;
        *) die "TRANSBOT_FAST_PATH must be auto or off, not '$(printable "$setting")'; unset it to let the scripts choose" ;;
    esac
    if version_at_least "$api" 1.44 && version_at_least "$compose_version" 2.24; then
        printf fast
    else
        printf portable
    fi
}

# --- Finding Docker and Compose ------------------------------------------------------

# Picks Compose v2 (the docker plugin) first, else v1 (docker-compose).
# COMPOSE_COMMAND overrides the choice, e.g. COMPOSE_COMMAND=docker-compose.
detect_compose() {
    ((${#COMPOSE[@]} == 0)) || return 0
    require_docker_cli
    if [[ -n "${COMPOSE_COMMAND:-}" ]]; then
        read -r -a COMPOSE <<<"$COMPOSE_COMMAND"
        COMPOSE_VERSION="$(answer compose-version "${COMPOSE[*]}" "${COMPOSE[@]}" version --short 2>/dev/null)" ||
            die "COMPOSE_COMMAND='$(printable "$COMPOSE_COMMAND")' does not run Compose; unset it to detect Compose automatically"
    elif COMPOSE_VERSION="$(answer compose-version "docker compose" docker compose version --short 2>/dev/null)"; then
        COMPOSE=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1 &&
        COMPOSE_VERSION="$(docker-compose version --short 2>/dev/null)"; then
        COMPOSE=(docker-compose)
    else
        die "Docker Compose is not installed; install the Compose plugin (Debian/Ubuntu: apt-get install docker-compose-plugin) or docker-compose: https://docs.docker.com/compose/install/"
    fi
    COMPOSE_VERSION="${COMPOSE_VERSION#v}"
    readonly COMPOSE COMPOSE_VERSION
}

# The docker CLI is needed whichever Compose runs: the scripts ask the
# engine about containers directly.
require_docker_cli() {
    command -v docker >/dev/null 2>&1 ||
        die "docker is not installed; install Docker Engine or Docker Desktop: https://docs.docker.com/get-docker/"
}

# Fails with a distinct message when the engine does not answer, and with
# the docker-group hint when the socket refuses this user. The same call
# tells the engine's API version, which, with Compose's version, picks the
# healthcheck path.
require_daemon() {
    local output path
    [[ -z "$ENGINE_API" ]] || return 0
    if ! output="$(answer engine-api docker docker version --format '{{.Server.APIVersion}}' 2>&1)"; then
        if [[ "$output" == *"permission denied"* ]]; then
            die "permission denied on the Docker socket; add yourself to the docker group (sudo usermod -aG docker \"\$USER\", then log in again) or use Docker Desktop"
        fi
        output="$(head -n 1 <<<"$output")"
        _require_docker_endpoint "$output"
        die "the Docker daemon is not reachable${output:+ ($output)}; start Docker (sudo systemctl start docker, or open Docker Desktop) and try again"
    fi
    ENGINE_API="$output"
    readonly ENGINE_API
    ((${#COMPOSE[@]} > 0)) || return 0
    path="$(healthcheck_path "$ENGINE_API" "$COMPOSE_VERSION" "${TRANSBOT_FAST_PATH:-auto}")"
    [[ "$path" != fast ]] || _fast_path_files
    readonly COMPOSE_FILES
}

# When docker was pointed elsewhere than the local daemon (DOCKER_CONTEXT,
# the context chosen with `docker context use`, DOCKER_HOST), starting
# Docker is not the fix: exits 1 saying which setting to change. OUTPUT is
# the first line of what docker said, e.g. 'Failed to initialize: unable to
# resolve docker endpoint: context "x": context not found: open ...' (older
# CLIs: 'context "x" does not exist').
_require_docker_endpoint() {
    local output="$1" context
    if [[ "$output" =~ context\ \"([^\"]*)\"(:\ context\ not\ found|\ does\ not\ exist) ]]; then
        context="$(printable "${BASH_REMATCH[1]}")"
        if [[ -n "${DOCKER_CONTEXT:-}" ]]; then
            die "the Docker context '$context' named by DOCKER_CONTEXT does not exist; unset DOCKER_CONTEXT to use the default one, or set it to a context that docker context ls lists"
        fi
        die "the current Docker context '$context' does not exist; choose one that docker context ls lists, e.g. docker context use default"
    fi
    if [[ -n "${DOCKER_HOST:-}" ]]; then
        die "the Docker daemon at DOCKER_HOST=$(printable "$DOCKER_HOST") is not reachable${output:+ ($output)}; start that daemon, or unset DOCKER_HOST to use the local one"
    fi
    if [[ -n "${DOCKER_CONTEXT:-}" && "$DOCKER_CONTEXT" != default ]]; then
        die "the Docker daemon of the context '$(printable "$DOCKER_CONTEXT")' named by DOCKER_CONTEXT is not reachable${output:+ ($output)}; start it, or unset DOCKER_CONTEXT to use the default one (docker context ls lists them)"
    fi
}

# Docker, Compose and the daemon, checked in that order.
require_docker() {
    detect_compose
    require_daemon
}

# Docker and the daemon, for the scripts that only ask the engine (docker
# ps, inspect, exec): they spare the ~0.1 s of asking Compose its version,
# and work where Compose is missing.
require_engine() {
    require_docker_cli
    require_daemon
}

# The compose files Compose reads by itself, one a line, as given
# (relative to the repository root, or absolute): COMPOSE_FILE, else
# docker-compose.yml and its override.
compose_file_list() {
    local file
    local -a listed=()
    if [[ -n "${COMPOSE_FILE:-}" ]]; then
        IFS="${COMPOSE_PATH_SEPARATOR:-:}" read -r -a listed <<<"$COMPOSE_FILE"
    else
        listed=(docker-compose.yml)
        for file in docker-compose.override.yml docker-compose.override.yaml; do
            if [[ -f "$REPO_ROOT/$file" ]]; then
                listed+=("$file")
                break
            fi
        done
    fi
    for file in "${listed[@]}"; do
        [[ -z "$file" ]] || printf '%s\n' "$file"
    done
}

# The compose files Compose would read by itself, with the fast overlay
# right after docker-compose.yml, so a user's override still wins over it.
# When docker-compose.yml is not among them, the overlay has nothing to
# refine: the portable path it is.
_fast_path_files() {
    local file added=false
    while IFS= read -r file; do
        COMPOSE_FILES+=(-f "$file")
        [[ "$file" == /* ]] || file="$REPO_ROOT/$file"
        if ! $added && [[ "$file" -ef "$REPO_ROOT/docker-compose.yml" ]]; then
            COMPOSE_FILES+=(-f "$FAST_OVERLAY")
            added=true
        fi
    done < <(compose_file_list)
    $added || COMPOSE_FILES=()
}

# "fast" or "portable", for messages.
current_healthcheck_path() {
    ((${#COMPOSE_FILES[@]} > 0)) && printf fast || printf portable
}

# Compose on this project. From the repository root, so Compose finds
# docker-compose.yml and merges a docker-compose.override.yml beside it, or
# reads COMPOSE_FILE, exactly as it would for a user typing the command.
compose() {
    local args=(--project-name "$(project_name)" "${COMPOSE_FILES[@]}")
    [[ ! -f "$ENV_FILE" ]] || args+=(--env-file "$ENV_FILE")
    (cd "$REPO_ROOT" && "${COMPOSE[@]}" "${args[@]}" "$@")
}

# Compose, its output masked, failing with one message that says what to do.
# Usage: compose_or_die "WHAT FAILED; WHAT TO DO" COMPOSE ARGUMENTS...
compose_or_die() {
    local failure="$1"
    shift
    compose "$@" 2>&1 | redact_secrets || die "$failure"
}

# `compose up -d` for SERVICES (none: the whole stack), its output masked;
# returns Compose's status. RECREATABLE are the services whose containers it
# may replace (the services and their dependencies).
# Usage: compose_up [SERVICE...] -- RECREATABLE...
compose_up() {
    local -a services=()
    while [[ "$1" != -- ]]; do services+=("$1"); shift; done
    shift
    _clear_what_compose_v1_cannot_recreate "$@"
    compose up -d "${services[@]}" 2>&1 | redact_secrets
}

# --- `up` beside the wait ----------------------------------------------------------
#
# start.sh and restart.sh run `compose up -d` in the background and wait for
# health beside it: Compose's own wait for a healthy dependency (langfuse
# on postgres) is then inside the script's --timeout, and the script can say
# what it still waits for. `up` runs in a process group of its own: Ctrl-C
# at the terminal reaches the script alone, which stops `up` itself and
# says "interrupted" once (Compose catches SIGINT and would exit with a
# failure of its own, and Compose v1 print "Aborting.").

_UP_PID=""          # the background `up` (the leader of its process group) while it runs
_UP_STATUS=""       # its exit status once it has ended
_UP_STATUS_FILE=""  # where it writes that status
_UP_RELEASES_LOCK=false

# Starts `compose up -d` for SERVICES in the background, its output masked,
# and returns at once. With --release-lock, the clone's lock is released
# when `up` has succeeded: the caller changes nothing after it, and another
# command (stop.sh) need not wait for the health wait.
# Usage: compose_up_in_background [--release-lock] [SERVICE...] -- RECREATABLE...
compose_up_in_background() {
    local -a services=()
    if [[ "$1" == --release-lock ]]; then
        _UP_RELEASES_LOCK=true
        shift
    fi
    while [[ "$1" != -- ]]; do services+=("$1"); shift; done
    shift
    _clear_what_compose_v1_cannot_recreate "$@"
    _UP_STATUS_FILE="$(mktemp)"
    _UP_STATUS=""
    # Stopped before its status file is removed: it would write it anew.
    at_exit stop_compose_up
    at_exit "rm -f $(printf '%q' "$_UP_STATUS_FILE")"
    # -m only while forking: the job gets its own process group, and every
    # other command stays in the script's (Ctrl-C must reach those).
    set -m
    (
        status=0
        compose up -d "${services[@]}" </dev/null 2>&1 | redact_secrets || status=$?
        printf '%s\n' "$status" >"$_UP_STATUS_FILE"
    ) &
    _UP_PID="$!"
    set +m
}

# Whether the background `up` still runs; once it has ended, _UP_STATUS is
# its exit status. Builtins only: a wait asks this ten times a second.
compose_up_running() {
    [[ -n "$_UP_PID" ]] || return 1
    if [[ ! -s "$_UP_STATUS_FILE" ]] && kill -0 "$_UP_PID" 2>/dev/null; then
        return 0
    fi
    _UP_STATUS=1 # ended without a word: killed
    [[ ! -s "$_UP_STATUS_FILE" ]] || read -r _UP_STATUS <"$_UP_STATUS_FILE" || true
    wait "$_UP_PID" 2>/dev/null || true
    _UP_PID=""
    if ((_UP_STATUS == 0)) && $_UP_RELEASES_LOCK; then
        release_stack_lock
    fi
    return 1
}

# Stops the background `up`, if it runs, and waits for it to end: SIGTERM
# to its process group (its output ends with it: the masking awk goes
# first), SIGKILL after 10 s. Compose v2 cancels what it was doing; the
# containers it has made are left as they are, and a next start.sh carries
# on from there.
stop_compose_up() {
    local tenths=0
    [[ -n "$_UP_PID" ]] || return 0
    kill -TERM -- "-$_UP_PID" 2>/dev/null || true
    while kill -0 -- "-$_UP_PID" 2>/dev/null && ((tenths < 100)); do
        sleep 0.1
        tenths=$((tenths + 1))
    done
    kill -KILL -- "-$_UP_PID" 2>/dev/null || true
    wait "$_UP_PID" 2>/dev/null || true
    _UP_PID=""
}

# Compose v1 recreates a changed container from its image's ContainerConfig,
# which Engine 25+ no longer reports: it then crashes (KeyError:
# 'ContainerConfig') and leaves the service down. For it, a container whose
# configuration changed is removed first and `up` creates it afresh. The
# built-in services keep their data in volumes/; anonymous volumes of a
# service of your own are not carried over, as they would be on Compose v2.
_clear_what_compose_v1_cannot_recreate() {
    local service hash container current
    compose_is_v1 && version_at_least "$ENGINE_API" 1.44 || return 0
    (($# > 0)) || return 0
    while read -r service hash; do
        grep -qxF -- "$service" < <(printf '%s\n' "$@") || continue
        container="$(container_of "$service")"
        [[ -n "$container" ]] || continue
        current="$(docker inspect --format '{{index .Config.Labels "com.docker.compose.config-hash"}}' "$container")"
        [[ "$current" != "$hash" ]] || continue
        step "Compose v1 cannot recreate $service on Docker Engine 25+; removing its old container first (data in volumes/ is kept)..."
        if ! { docker stop --time 60 "$container" && docker rm "$container"; } >/dev/null; then
            die "could not remove the old $service container; remove it (docker rm -f $container) or use Compose v2"
        fi
    done < <(compose config --hash="$(IFS=,; printf '%s' "$*")" 2> >(redact_secrets >&2))
}

# --- The engine's view of the project ------------------------------------------

# The id of SERVICE's container in this project (empty if none), straight from
# the engine by Compose's labels: the same for v1 and v2, and fast.
container_of() {
    docker ps -aq \
        --filter "label=com.docker.compose.project=$(project_name)" \
        --filter "label=com.docker.compose.service=$1" | awk 'NR == 1'
}

# This project's containers, newest first, one a line: "ID SERVICE FOLDER",
# FOLDER being where Compose was run (it may hold spaces). The functions
# below take this listing as an argument, so a command asks for it once.
project_containers() {
    docker ps -a --filter "label=com.docker.compose.project=$(project_name)" \
        --format '{{.ID}} {{.Label "com.docker.compose.service"}} {{.Label "com.docker.compose.project.working_dir"}}'
}

# Every running container of the engine, whatever its project, one a line:
# "ID<US>PROJECT<US>SERVICE<US>PORTS", <US> being the unit separator \x1f
# (PROJECT and SERVICE are empty for a container Compose did not start, and
# PORTS holds spaces). A start asks once and both its data-folder and its
# port checks read it.
running_containers() {
    docker ps --format '{{.ID}}{{"\x1f"}}{{.Label "com.docker.compose.project"}}{{"\x1f"}}{{.Label "com.docker.compose.service"}}{{"\x1f"}}{{.Ports}}' ||
        die "could not list the engine's running containers (docker ps failed, see above); check Docker, then run ./scripts/$SCRIPT_NAME again"
}

# The IDs of a running_containers listing, one a line.
# Usage: running_ids RUNNING
running_ids() {
    [[ -z "$1" ]] || cut -d $'\x1f' -f1 <<<"$1"
}

# The published ports of this project's containers of SERVICES (one a
# line) in a running_containers listing, e.g. "127.0.0.1:5432->5432/tcp",
# one container a line. A container of a service no longer in the
# configuration (an orphan) is left out: `up` leaves it running, so its
# port stays taken.
# Usage: project_ports RUNNING SERVICES
project_ports() {
    awk -F $'\x1f' -v project="$(project_name)" -v services="$2" '
        BEGIN { n = split(services, name, "\n"); for (i = 1; i <= n; i++) wanted[name[i]] = 1 }
        $2 == project && ($3 in wanted) { print $4 }' <<<"$1"
}

# What each of the containers IDS mounts, one mount a line:
# "NAME<US>PROJECT<US>SERVICE<US>FOLDER<US>SOURCE": the container's name, its
# Compose project and service (empty if Compose did not start it), the
# folder Compose was run from, and the host path mounted. One call for all.
# Usage: container_mounts ID...
container_mounts() {
    local template='{{range .Mounts}}{{$.Name}}{{"\x1f"}}'
    template+='{{index $.Config.Labels "com.docker.compose.project"}}{{"\x1f"}}'
    template+='{{index $.Config.Labels "com.docker.compose.service"}}{{"\x1f"}}'
    template+='{{index $.Config.Labels "com.docker.compose.project.working_dir"}}{{"\x1f"}}'
    template+='{{.Source}}{{"\n"}}{{end}}'
    (($# > 0)) || return 0
    # A container that stopped since the listing is just not there.
    docker inspect --format "$template" "$@" 2>/dev/null || true
}

# The container IDs of a project_containers listing, one a line.
# Usage: container_ids CONTAINERS
container_ids() {
    awk 'NF { print $1 }' <<<"$1"
}

# "SERVICE ID STATE HEALTH RESTARTS PROBES HEALTHCHECK" for each of the
# containers IDS, e.g. "redis 3f2a... running healthy 0 2 {"Test":...}",
# in one call, in the order given. PROBES is how many health probes the
# engine has logged (0 before the first one ends); HEALTHCHECK is the
# container's healthcheck as JSON ("null": none), to the end of the line:
# older engines lack some of its keys, which a template cannot name. A
# container removed meanwhile is just not listed (the engine prints an
# empty line for it).
# Usage: container_states ID...
container_states() {
    (($# > 0)) || return 0
    docker inspect --format \
        '{{index .Config.Labels "com.docker.compose.service"}} {{.ID}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}} {{.RestartCount}} {{len .State.Health.Log}}{{else}}none {{.RestartCount}} 0{{end}} {{json .Config.Healthcheck}}' \
        "$@" 2>/dev/null | awk 'NF' || true
}

# The same for each service's newest container in the listing CONTAINERS
# (from project_containers).
# Usage: project_container_states CONTAINERS
project_container_states() {
    local -a ids
    mapfile -t ids < <(container_ids "$1")
    container_states "${ids[@]}" | awk 'NF && !seen[$1]++'
}

# The services that have a container in the listing CONTAINERS, one a line.
# Usage: project_services CONTAINERS
project_services() {
    awk 'NF >= 2 && !seen[$2]++ { print $2 }' <<<"$1"
}

# Follows the engine's events for this project's containers that change
# what a wait sees: a start, a death, a restart, a health status. From two
# seconds ago, so an event between this call and the engine's first answer
# is not lost (a clock a little off costs a spare look, no more). Sets
# FD_VAR to the stream to read; stop_following_events ends it, and so does
# the script's exit, however it exits (a `docker events` left behind would
# run forever).
# Usage: follow_project_events FD_VAR
_EVENTS_PID=""
follow_project_events() {
    local -n _events_fd="$1"
    local since
    printf -v since '%(%s)T' -1
    exec {_events_fd}< <(exec docker events --since "$((since - 2))" --format '{{.Action}}' \
        --filter type=container --filter "label=com.docker.compose.project=$(project_name)" \
        --filter event=start --filter event=die --filter event=restart --filter event=health_status 2>/dev/null)
    _EVENTS_PID="$!"
    at_exit stop_following_events
}

stop_following_events() {
    [[ -n "$_EVENTS_PID" ]] || return 0
    kill "$_EVENTS_PID" 2>/dev/null || true
    _EVENTS_PID=""
}

# Waits until the stream FD has an event, at most SECONDS, then takes every
# event already there too: one look answers them all. _NEXT_EVENTS_GOT says
# whether there was one (1) or the time ran out (0). Returns 1 when the
# stream has ended (the engine went away, or cannot stream events).
# Usage: next_events FD SECONDS
_NEXT_EVENTS_GOT=0
next_events() {
    local fd="$1" seconds="$2" status=0
    _NEXT_EVENTS_GOT=0
    read -r -t "$seconds" -u "$fd" _ || status=$?
    ((status == 0 || status > 128)) || return 1
    ((status > 128)) || _NEXT_EVENTS_GOT=1
    while read -r -t 0 -u "$fd" && read -r -u "$fd" _; do :; done
}

# "STATE HEALTH" of a container, e.g. "running healthy", "exited none".
container_status() {
    docker inspect --format \
        '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1" 2>/dev/null ||
        printf 'missing none'
}

# The output of the container's most recent health probe, on one line.
last_health_output() {
    # %q puts each probe's output on one line; the last one is the newest.
    # docker ends the template's output with a newline of its own, so the
    # last line is an empty one: take the last that is not.
    docker inspect --format \
        '{{if .State.Health}}{{range .State.Health.Log}}{{printf "%q" .Output}}{{"\n"}}{{end}}{{end}}' \
        "$1" 2>/dev/null | awk 'NF { last = $0 } END { print last }' |
        sed 's/^"//; s/"$//; s/\\n/ /g' | cut -c1-300
}

# "SERVICE HOST_IP PUBLISHED TARGET" for each TCP port the engine publishes
# for SERVICE's running CONTAINER (the lines of model_ports, as they are
# now). A stopped container publishes none.
# Usage: engine_ports SERVICE CONTAINER
engine_ports() {
    # e.g. "3000/tcp -> 127.0.0.1:41300" and "3000/tcp -> [::]:41300"
    docker port "$2" 2>/dev/null | awk -v service="$1" '
        $1 ~ /\/tcp$/ && $2 == "->" {
            target = $1; sub(/\/.*/, "", target)
            port = $3; sub(/.*:/, "", port)
            host = substr($3, 1, length($3) - length(port) - 1); gsub(/[][]/, "", host)
            print service, host, port, target
        }' || true
}

# What a person needs when a service is not healthy: its state, its last
# health probe and its last log lines, plus the command to see more.
show_diagnostics() {
    local service="$1" container logs last errors
    container="$(container_of "$service")"
    printf '\n--- %s ---\n' "$service" >&2
    if [[ -z "$container" ]]; then
        printf 'no container (it was never created, or was removed)\n' >&2
        return 0
    fi
    printf 'state:        %s\n' "$(container_status "$container")" >&2
    printf 'last probe:   %s\n' "$(last_health_output "$container" | redact_secrets)" >&2
    logs="$(docker logs --tail 200 "$container" 2>&1 | redact_secrets)"
    last="$(tail -n 15 <<<"$logs")"
    printf 'last log lines:\n' >&2
    printf '    %s\n' "${last//$'\n'/$'\n'    }" >&2
    # A crash-looping container's last lines are often its next attempt,
    # still starting: the reason it failed is further up.
    errors="$(grep -E 'ERROR|FATAL|PANIC|[Ee]rror:|No space left' <<<"$logs" | tail -n 3 || true)"
    if [[ -n "$errors" && "$last" != *"$errors"* ]]; then
        printf 'last errors in its log:\n' >&2
        printf '    %s\n' "${errors//$'\n'/$'\n'    }" >&2
    fi
    printf 'more: ./scripts/logs.sh %s --tail 200\n' "$service" >&2
}

# The id of SERVICE's running container, or exit 1 saying how to start it.
running_container_of() {
    local container
    container="$(container_of "$1")"
    if [[ -z "$container" || "$(container_status "$container")" != running* ]]; then
        die "$1 is not running; start it with ./scripts/start.sh $1"
    fi
    printf '%s' "$container"
}

# Replaces this process with COMMAND in SERVICE's running container, for a
# person to type into: -i always (so input can be piped in), -t only when
# both ends are a terminal. Variables named before -- are passed through
# from this environment (docker exec -e NAME), never on a command line.
# Usage: exec_in_service SERVICE [VARIABLE...] -- COMMAND...
exec_in_service() {
    local service="$1" container flags=(-i)
    shift
    while (($# > 0)) && [[ "$1" != -- ]]; do
        flags+=(-e "$1")
        shift
    done
    shift
    [[ -t 0 && -t 1 ]] && flags+=(-t)
    container="$(running_container_of "$service")"
    exec docker exec "${flags[@]}" "$container" "$@"
}

# The ids of this project's networks.
project_networks() {
    docker network ls -q --filter "label=com.docker.compose.project=$(project_name)"
}

# "SERVICE NAME" for each of this project's containers of SERVICES, for
# messages that say what to remove.
# Usage: container_names SERVICE...
container_names() {
    docker ps -a --filter "label=com.docker.compose.project=$(project_name)" \
        --format '{{.Label "com.docker.compose.service"}} {{.Names}}' 2>/dev/null |
        awk -v wanted=" $* " 'index(wanted, " " $1 " ") { print }' || true
}

# "mailer (transbot-mailer-1), ...; remove ..." for the containers of
# ORPHANS, services no longer in the configuration. Removing a container
# keeps its volumes and bind-mounted data.
# Usage: orphans_and_how_to_remove_them ORPHAN...
orphans_and_how_to_remove_them() {
    local named
    named="$(container_names "$@")"
    printf '%s; remove them with ./scripts/stop.sh (the whole stack; data is kept), or alone: docker rm -f %s' \
        "$(awk '{ printf "%s%s (%s)", sep, $1, $2; sep = ", " }' <<<"$named")" \
        "$(awk '{ printf "%s%s", sep, $2; sep = " " }' <<<"$named")"
}

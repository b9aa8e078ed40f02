# shellcheck shell=bash
# Finding Docker, the daemon and Compose: the Compose command and its
# version, the engine's API version, and from those the healthcheck path
# (fast or portable) with the compose files it means; the project's name;
# require_docker, require_engine and require_daemon, the checks each
# command starts with. Loaded after common.sh (die, printable) and ahead.sh
# (answer: a version asked for ahead), before every file that asks the
# engine or runs Compose: they read what is found here. Sourced, never run.

# Set once, by detect_compose and require_daemon.
COMPOSE=()           # the Compose command, as words: (docker compose) or (docker-compose)
COMPOSE_VERSION=""   # e.g. 2.40.3, 5.0.1, 1.29.2
ENGINE_API=""        # the engine's API version, e.g. 1.45
COMPOSE_FILES=()     # -f arguments on the fast path; empty on the portable path

# The overlay that makes healthchecks fast while starting and rare at rest.
readonly FAST_OVERLAY="services/compose/fast-healthchecks.yml"

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
    path="$(healthcheck_path "$ENGINE_API" "$COMPOSE_VERSION" "$(setting TRANSBOT_FAST_PATH)")"
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
    # shellcheck disable=SC2034 # only answer_into's place: the own-stack
    # step takes the answer it keeps
    local listing
    require_docker_cli
    # The project's containers, when they were asked ahead (lib/needs.sh),
    # say that the engine answers: one `docker` fewer. When they were not
    # listed, the version question below says why, as for every command.
    if asked_ahead detail docker && answer_into listing detail docker; then
        return 0
    fi
    require_daemon
}

# --- The project: its name and its compose files ------------------------------

# The project name: Compose's own variable, else "transbot".
project_name() {
    setting COMPOSE_PROJECT_NAME
}

# The compose files Compose reads by itself, one a line, as given
# (relative to the repository root, or absolute): COMPOSE_FILE, else
# docker-compose.yml and its override.
compose_file_list() {
    local file
    local -a listed=()
    if [[ -n "${COMPOSE_FILE:-}" ]]; then
        IFS="$(setting COMPOSE_PATH_SEPARATOR)" read -r -a listed <<<"$COMPOSE_FILE"
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

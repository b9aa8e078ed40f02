# shellcheck shell=bash
# Finding Docker and Compose, running Compose on this project, and asking the
# engine about the project's containers. Sourced, never run.

# The Compose command, as words: (docker compose) or (docker-compose).
COMPOSE=()
COMPOSE_VERSION=""

# The project name: Compose's own variable, else "transbot".
project_name() {
    printf '%s' "${COMPOSE_PROJECT_NAME:-transbot}"
}

# Picks Compose v2 (the docker plugin) first, else v1 (docker-compose).
# COMPOSE_COMMAND overrides the choice, e.g. COMPOSE_COMMAND=docker-compose.
detect_compose() {
    # The docker CLI is needed whichever Compose runs: the scripts ask the
    # engine about containers directly.
    if ! command -v docker >/dev/null 2>&1; then
        die "docker is not installed; install Docker Engine or Docker Desktop: https://docs.docker.com/get-docker/"
    elif [[ -n "${COMPOSE_COMMAND:-}" ]]; then
        read -r -a COMPOSE <<<"$COMPOSE_COMMAND"
        COMPOSE_VERSION="$("${COMPOSE[@]}" version --short 2>/dev/null)" ||
            die "COMPOSE_COMMAND='$COMPOSE_COMMAND' does not run Compose; unset it to detect Compose automatically"
    elif COMPOSE_VERSION="$(docker compose version --short 2>/dev/null)"; then
        COMPOSE=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1 &&
        COMPOSE_VERSION="$(docker-compose version --short 2>/dev/null)"; then
        COMPOSE=(docker-compose)
    else
        die "Docker Compose is not installed; install the Compose plugin (Debian/Ubuntu: apt-get install docker-compose-plugin) or docker-compose: https://docs.docker.com/compose/install/"
    fi
    COMPOSE_VERSION="${COMPOSE_VERSION#v}"
}

compose_is_v1() {
    [[ "$COMPOSE_VERSION" == 1.* ]]
}

# Fails with a distinct message when the engine does not answer, and with
# the docker-group hint when the socket refuses this user.
require_daemon() {
    local output
    if output="$(docker version --format '{{.Server.Version}}' 2>&1)"; then
        return 0
    fi
    if [[ "$output" == *"permission denied"* ]]; then
        die "permission denied on the Docker socket; add yourself to the docker group (sudo usermod -aG docker \"\$USER\", then log in again) or use Docker Desktop"
    fi
    die "the Docker daemon is not reachable ($(head -n 1 <<<"$output")); start Docker (sudo systemctl start docker, or open Docker Desktop) and try again"
}

# Docker, Compose and the daemon, checked in that order.
require_docker() {
    detect_compose
    require_daemon
}

# Compose on this project. From the repository root, so Compose finds
# docker-compose.yml and merges a docker-compose.override.yml beside it, or
# reads COMPOSE_FILE, exactly as it would for a user typing the command.
compose() {
    local args=(--project-name "$(project_name)")
    [[ ! -f "$ENV_FILE" ]] || args+=(--env-file "$ENV_FILE")
    (cd "$REPO_ROOT" && "${COMPOSE[@]}" "${args[@]}" "$@")
}

# --- The engine's view of the project ------------------------------------------

# The id of SERVICE's container in this project (empty if none), straight from
# the engine by Compose's labels: the same for v1 and v2, and fast.
container_of() {
    docker ps -aq \
        --filter "label=com.docker.compose.project=$(project_name)" \
        --filter "label=com.docker.compose.service=$1" | awk 'NR == 1'
}

# "STATE HEALTH" of a container, e.g. "running healthy", "exited none".
container_status() {
    docker inspect --format \
        '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1" 2>/dev/null ||
        printf 'missing none'
}

# The output of the container's most recent health probe, on one line.
last_health_output() {
    # %q puts each probe's output on one line; the last line is the newest.
    docker inspect --format \
        '{{if .State.Health}}{{range .State.Health.Log}}{{printf "%q" .Output}}{{"\n"}}{{end}}{{end}}' \
        "$1" 2>/dev/null | sed -n '$p' | sed 's/^"//; s/"$//; s/\\n/ /g' | cut -c1-300
}

# The selected services, or every service of the compose file.
selected_services() {
    if ((${#SERVICES[@]} > 0)); then
        printf '%s\n' "${SERVICES[@]}"
    else
        known_services
    fi
}

# Copies stdin to stdout with every secret from .env.infra replaced by ****:
# a service that logs a connection string must not leak it through us. The
# secrets reach awk through its environment, not its command line.
redact_secrets() {
    local name index=0
    # A subshell: the exported secrets end with it.
    (
        while IFS= read -r name; do
            [[ -n "${!name:-}" && "${!name}" != "$PLACEHOLDER" ]] || continue
            index=$((index + 1))
            export "REDACT_$index=${!name}"
        done < <(secret_names)
        # mawk fills its input buffer before it processes a line, which would
        # hold back `logs -f` output; -W interactive makes it line by line.
        local awk_options=()
        if awk -W version 2>/dev/null | grep -qi mawk; then
            awk_options=(-W interactive)
        fi
        REDACT_COUNT="$index" awk "${awk_options[@]}" '
            BEGIN { n = ENVIRON["REDACT_COUNT"] + 0
                    for (i = 1; i <= n; i++) secret[i] = ENVIRON["REDACT_" i] }
            {
                line = $0
                for (i = 1; i <= n; i++) {
                    out = ""
                    while ((at = index(line, secret[i])) > 0) {
                        out = out substr(line, 1, at - 1) "****"
                        line = substr(line, at + length(secret[i]))
                    }
                    line = out line
                }
                print line
                fflush()
            }'
    )
}

# What a person needs when a service is not healthy: its state, its last
# health probe and its last log lines, plus the command to see more.
show_diagnostics() {
    local service="$1" container
    container="$(container_of "$service")"
    printf '\n--- %s ---\n' "$service" >&2
    if [[ -z "$container" ]]; then
        printf 'no container (it was never created, or was removed)\n' >&2
        return 0
    fi
    printf 'state:        %s\n' "$(container_status "$container")" >&2
    printf 'last probe:   %s\n' "$(last_health_output "$container" | redact_secrets)" >&2
    printf 'last log lines:\n' >&2
    docker logs --tail 15 "$container" 2>&1 | redact_secrets | sed 's/^/    /' >&2
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

# shellcheck shell=bash
# The value of every setting that has one when neither .env.infra nor the
# shell sets it, in one place. docker-compose.yml and deploy/swarm/stack.yml
# repeat them as ${NAME:-default}, because Compose typed by hand must get the
# same values; tests/lint/test_defaults.py keeps all of them equal to this
# table (and to .env.infra.example). Sourced, never run.

readonly -A SETTING_DEFAULTS=(
    [COMPOSE_PROJECT_NAME]=transbot
    [COMPOSE_PATH_SEPARATOR]=:
    [BIND_ADDRESS]=127.0.0.1
    [POSTGRES_USER]=transbot_user
    [POSTGRES_DB]=transbot
    [POSTGRES_PORT]=5432
    [LANGFUSE_PORT]=3000
    [LANGFUSE_ADMIN_EMAIL]=admin@transbot.local
    [LANGFUSE_DISABLE_SIGNUP]=false
    [REDIS_PORT]=6379
    [REDIS_APPENDFSYNC]=everysec
    [TRANSBOT_FAST_PATH]=auto
    [POSTGRES_IMAGE]=postgres:15-alpine
    [LANGFUSE_IMAGE]=langfuse/langfuse:2
    [REDIS_IMAGE]=redis:7-alpine
    [LANGFUSE_REPLICAS]=2
    [LANGFUSE_URL]=http://localhost:3000
)

# The value of setting NAME: its variable when set and not empty (as for
# Compose's ${NAME:-default}), else its default.
# Usage: setting NAME
setting() {
    local value="${!1:-}"
    printf '%s' "${value:-${SETTING_DEFAULTS[$1]}}"
}

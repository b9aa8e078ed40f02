# shellcheck shell=bash
# Langfuse, the built-in service "langfuse": everything the scripts do that
# is particular to it, as hooks the dispatcher of lib/services.sh calls by
# name (langfuse_<hook>). It keeps its data in postgres' "langfuse"
# database: it has no backup hooks of its own. Sourced, never run.

# GET /api/public/health, which fails while its database is unavailable,
# through the port the engine publishes.
# Usage: langfuse_probe CONTAINER
langfuse_probe() {
    local container="$1" port status
    # Where the engine publishes it: an override may have moved the port
    # away from what LANGFUSE_PORT says (one `docker port`, no Compose).
    port="$(published_port langfuse "$(engine_ports langfuse "$container")")"
    if [[ -z "$port" ]]; then
        printf 'fail its port %s is not published (see ports: in your compose files)' "$(service_field langfuse target)"
        return 0
    fi
    status="$(http_status "$(probe_host)" "$port" '/api/public/health?failIfDatabaseUnavailable=true')"
    if [[ "$status" == 200 ]]; then
        printf 'ok GET /api/public/health on port %s answered 200' "$port"
    else
        printf 'fail GET /api/public/health on port %s answered %s' "$port" "${status:-nothing}"
    fi
}

# localhost, as in its NEXTAUTH_URL: the login works only there.
# Usage: langfuse_summary HOST PORTS
langfuse_summary() {
    printf 'http://localhost:%s  (login: %s)' "$(port_of langfuse "$2")" "$(setting LANGFUSE_ADMIN_EMAIL)"
}

# Its keys and address for TransBot's .env (app-env.sh): localhost, as in
# its NEXTAUTH_URL, where the stack listens on IPv4 loopback; otherwise the
# address it listens on.
# Usage: langfuse_app_env HOST PORTS
langfuse_app_env() {
    local host=localhost
    [[ "$1" == 127.0.0.1 ]] || host="$1"
    printf 'LANGFUSE_PUBLIC_KEY=%s\n' "$LANGFUSE_PUBLIC_KEY"
    printf 'LANGFUSE_SECRET_KEY=%s\n' "$LANGFUSE_SECRET_KEY"
    printf 'LANGFUSE_HOST=http://%s:%s\n' "$host" "$(port_of langfuse "$2")"
}

# --- Image updates (update-images.sh) -------------------------------------------

# The version the server in CONTAINER reports on /api/public/health, e.g.
# 2.95.12, asked inside the container (its busybox wget, as the
# healthcheck does).
# Usage: langfuse_server_version CONTAINER
langfuse_server_version() {
    docker exec "$1" wget -q -O - "http://127.0.0.1:$(service_field langfuse target)/api/public/health" 2>/dev/null |
        sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p' || true
}

# Langfuse v3 needs ClickHouse, S3 storage and a worker: no image update.
langfuse_major_path() {
    printf 'Langfuse v3 is another stack (ClickHouse, S3 storage, a worker): see the README, "Upgrading".'
}

# shellcheck shell=bash
# Redis, the built-in service "redis": everything the scripts do that is
# particular to it, as hooks the dispatcher of lib/services.sh calls by name
# (redis_<hook>). Sourced, never run.

# --- Health ------------------------------------------------------------------------

# An authenticated PING that must answer PONG. The password reaches the
# container through the environment of `docker exec`, never argv.
# Usage: redis_probe CONTAINER
redis_probe() {
    local container="$1" output
    output="$(REDISCLI_AUTH="${REDIS_PASSWORD-}" docker exec -e REDISCLI_AUTH "$container" \
        redis-cli ping 2>&1)" || true
    if [[ "$output" == PONG ]]; then
        printf 'ok authenticated PING answered PONG'
    else
        printf 'fail PING answered: %s' "$(first_line_of "$output")"
    fi
}

# Redis takes its password from the environment of its container when the
# container is created: a changed REDIS_PASSWORD needs a new container.
# Usage: redis_hint DETAIL
redis_hint() {
    info "  Recreate the container so it takes the password from .env.infra: ./scripts/restart.sh redis" >&2
}

# Usage: redis_summary HOST PORTS
redis_summary() {
    printf 'redis://%s:%s' "$1" "$(port_of redis "$2")"
}

# REDIS_URL for TransBot's .env (app-env.sh). The user name "default" is
# spelled out: redis-cli 7.0 sends AUTH with an empty user for redis://:pw@
# and is refused (WRONGPASS); redis-py and every other client accept it too.
# Usage: redis_app_env HOST PORTS
redis_app_env() {
    printf 'REDIS_URL=redis://default:%s@%s:%s/0\n' "$(urlencode "$REDIS_PASSWORD")" "$1" "$(port_of redis "$2")"
}

# --- Backups ---------------------------------------------------------------------
# One file, redis.rdb: a snapshot of the whole dataset.

redis_backup_files() {
    printf '%s\n' redis.rdb
}

# redis-cli --rdb asks the server for a fresh snapshot, as a replica would.
# Usage: redis_backup FOLDER
redis_backup() {
    local folder="$1" container
    container="$(running_container_of redis)"
    REDISCLI_AUTH="$REDIS_PASSWORD" docker exec -e REDISCLI_AUTH "$container" sh -c \
        'redis-cli --rdb /tmp/backup.rdb >/tmp/backup.log 2>&1 && cat /tmp/backup.rdb; status=$?; [ "$status" = 0 ] || cat /tmp/backup.log >&2; rm -f /tmp/backup.rdb /tmp/backup.log; exit $status' \
        >"$folder/redis.rdb" || die "the Redis snapshot failed"
}

# Usage: redis_verify BACKUP
redis_verify() {
    local backup="$1" container
    container="$(running_container_of redis)"
    docker exec -i "$container" sh -c \
        'cat >/tmp/verify.rdb && redis-check-rdb /tmp/verify.rdb >/dev/null 2>&1; status=$?; rm -f /tmp/verify.rdb; exit $status' \
        <"$backup/redis.rdb" || die "redis.rdb is not a valid Redis snapshot; nothing was restored"
}

# Stopped, its data replaced (services/redis/restore-rdb.sh puts the
# previous data back if that fails), started again whatever happens.
# Usage: redis_restore BACKUP MODEL
redis_restore() {
    local backup="$1"
    step "Restoring redis..."
    compose_or_die "docker compose stop failed (see above); nothing was restored" stop redis
    if ! in_service_container redis "$(cat "$REPO_ROOT/services/redis/restore-rdb.sh")" <"$backup/redis.rdb"; then
        compose_up redis -- redis || true
        die "restoring redis failed (see above); its previous data was kept"
    fi
    compose_up redis -- redis || die "docker compose up failed (see above); start it with ./scripts/start.sh redis"
}

# --- Client ------------------------------------------------------------------------

# redis-cli, authenticated: the password travels in REDISCLI_AUTH, not on
# any command line, and redis-cli prints no warning about it. Replaces this
# process.
# Usage: redis_client REDIS_CLI_ARG...
redis_client() {
    export REDISCLI_AUTH="$REDIS_PASSWORD"
    exec_in_service redis REDISCLI_AUTH -- redis-cli "$@"
}

# --- Image updates (update-images.sh) -------------------------------------------

# The version the server in CONTAINER reports (INFO server), e.g. 7.2.5.
# Usage: redis_server_version CONTAINER
redis_server_version() {
    REDISCLI_AUTH="$REDIS_PASSWORD" docker exec -e REDISCLI_AUTH "$1" redis-cli INFO server 2>/dev/null |
        awk -F: '$1 == "redis_version" { sub(/\r$/, "", $2); print $2; exit }' || true
}

# The major of IMAGE, as its redis-server says (`redis-server --version`:
# "Redis server v=7.2.5 sha=..."), in a throw-away container without a
# network that touches no data. Empty when it says nothing of the kind.
# Usage: redis_image_major IMAGE
redis_image_major() {
    docker run --rm --network none --entrypoint redis-server -- "$1" --version 2>/dev/null |
        sed -n 's/.* v=\([0-9][0-9]*\)\..*/\1/p' || true
}

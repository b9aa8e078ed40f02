#!/usr/bin/env bash
# Backs up the running stack's data into backups/<timestamp>/.
# shellcheck source=scripts/lib/all.sh
source "$(dirname -- "$(readlink -f -- "$0")")/lib/all.sh"

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...]

Backs up the data of the named services, or of all of them, while the
stack runs, into a new folder backups/<UTC timestamp>/ (ignored by git):
  postgres  consistent pg_dump archives of the TransBot database and of
            Langfuse's database (custom format: pg_restore -d DB FILE)
  redis     a snapshot of the whole dataset (RDB)
  langfuse  keeps its data in PostgreSQL: back up postgres
A MANIFEST with each file's SHA-256 lets ./scripts/restore.sh refuse a
damaged backup. The folder and files are readable only by you.

Options:
  -h, --help   show this help

Exit status: 0 done (prints the folder), 1 failed, 2 usage error.
EOF
}

# pg_dump takes one snapshot per database, so each archive is consistent
# while TransBot keeps writing.
backup_postgres() {
    local folder="$1" container database
    container="$(running_container_of postgres)"
    for database in "${POSTGRES_DB:-transbot}:transbot" "langfuse:langfuse"; do
        docker exec "$container" pg_dump --format=custom \
            --username "${POSTGRES_USER:-transbot_user}" --dbname "${database%%:*}" \
            >"$folder/postgres-${database#*:}.dump" ||
            die "pg_dump of the ${database%%:*} database failed"
    done
}

# redis-cli --rdb asks the server for a fresh snapshot, as a replica would.
backup_redis() {
    local folder="$1" container
    container="$(running_container_of redis)"
    REDISCLI_AUTH="$REDIS_PASSWORD" docker exec -e REDISCLI_AUTH "$container" sh -c \
        'redis-cli --rdb /tmp/backup.rdb >/tmp/backup.log 2>&1 && cat /tmp/backup.rdb; status=$?; [ "$status" = 0 ] || cat /tmp/backup.log >&2; rm -f /tmp/backup.rdb /tmp/backup.log; exit $status' \
        >"$folder/redis.rdb" || die "the Redis snapshot failed"
}

write_manifest() {
    local folder="$1" file
    {
        printf '# TransBot infrastructure backup, made by scripts/backup.sh\n'
        printf 'created %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        printf 'project %s\n' "$(project_name)"
        for file in "$folder"/*; do
            [[ "$(basename "$file")" != "$MANIFEST" ]] || continue
            printf 'sha256 %s %s\n' "$(sha256_of "$file")" "$(basename "$file")"
        done
    } >"$folder/$MANIFEST"
}

FOLDER=""

main() {
    local service
    local -a with_data
    parse_services "$@"
    require_env
    require_docker
    mapfile -t with_data < <(services_with_data)
    ((${#with_data[@]} > 0)) || usage_error "langfuse keeps its data in PostgreSQL; back up postgres instead"
    umask 077
    mkdir -p "$BACKUP_ROOT"
    FOLDER="$BACKUP_ROOT/$(date -u +%Y%m%dT%H%M%SZ)"
    mkdir "$FOLDER" || die "$FOLDER already exists; wait a second and try again"
    # A failed backup must not look like a good one.
    trap 'rm -rf "$FOLDER"' EXIT
    for service in "${with_data[@]}"; do
        step "Backing up $service..."
        "backup_$service" "$FOLDER"
    done
    write_manifest "$FOLDER"
    trap - EXIT
    ok "backup written to backups/$(basename "$FOLDER") ($(du -sh "$FOLDER" | cut -f1))"
    info "Restore it with: ./scripts/restore.sh backups/$(basename "$FOLDER")"
}

main "$@"

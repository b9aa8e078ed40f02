#!/usr/bin/env bash
# Restores a backup made by backup.sh into the running stack.
# shellcheck source=scripts/lib/all.sh
source "$(dirname -- "$(readlink -f -- "$0")")/lib/all.sh"

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME BACKUP_FOLDER [SERVICE...] [-y|--yes]

Restores the data of the named services (default: every service the backup
holds) from a folder made by ./scripts/backup.sh, into the running stack.
The current data of those services is replaced: it asks first.

Before anything is replaced, the backup is checked: the folder must have a
MANIFEST, hold the named services' files, every file must match its SHA-256,
and each archive must be readable (pg_restore --list, redis-check-rdb). A
backup that fails any check is refused and nothing changes.

PostgreSQL archives are restored in one transaction each: if one fails,
that database is left as it was. Redis is stopped, its data replaced, and
started again; so is Langfuse around the restore of its database.

Options:
  -y, --yes    do not ask (required when there is no terminal to ask on)
  -h, --help   show this help

Exit status: 0 restored, 1 refused or failed, 2 usage error.
EOF
}

VALID_OPTIONS="-y --yes -h --help"
BACKUP=""

parse_args() {
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            -y | --yes) ASSUME_YES=true; shift ;;
            -*) unknown_option "$1" "$VALID_OPTIONS" ;;
            *)
                if [[ -z "$BACKUP" ]]; then
                    BACKUP="$1"
                else
                    add_service "$1"
                fi
                shift ;;
        esac
    done
    [[ -n "$BACKUP" ]] || usage_error "name the backup folder to restore, e.g. backups/20260101T120000Z"
}

# Every check that can refuse the backup, before anything is touched.
verify_backup() {
    local service file expected
    [[ -d "$BACKUP" && -f "$BACKUP/$MANIFEST" ]] ||
        die "$(printable "$BACKUP") is not a backup folder made by ./scripts/backup.sh (no $MANIFEST)"
    for service in "${RESTORE_SERVICES[@]}"; do
        while IFS= read -r file; do
            expected="$(manifest_sha256 "$BACKUP" "$file")"
            [[ -n "$expected" && -f "$BACKUP/$file" ]] ||
                die "the backup has no $service data ($file); it was made for other services: $(awk '$1 == "sha256" { print $3 }' "$BACKUP/$MANIFEST" | paste -sd ' ' -)"
            [[ "$(sha256_of "$BACKUP/$file")" == "$expected" ]] ||
                die "$file in the backup is corrupt or truncated (its SHA-256 does not match the MANIFEST); nothing was restored"
        done < <(backup_files_of "$service")
    done
    for service in "${RESTORE_SERVICES[@]}"; do
        "verify_$service"
    done
}

verify_postgres() {
    local file container
    container="$(running_container_of postgres)"
    for file in postgres-transbot.dump postgres-langfuse.dump; do
        docker exec -i "$container" pg_restore --list <"$BACKUP/$file" >/dev/null 2>&1 ||
            die "$file is not a readable pg_dump archive; nothing was restored"
    done
}

verify_redis() {
    local container
    container="$(running_container_of redis)"
    docker exec -i "$container" sh -c \
        'cat >/tmp/verify.rdb && redis-check-rdb /tmp/verify.rdb >/dev/null 2>&1; status=$?; rm -f /tmp/verify.rdb; exit $status' \
        <"$BACKUP/redis.rdb" || die "redis.rdb is not a valid Redis snapshot; nothing was restored"
}

restore_postgres() {
    local container
    container="$(running_container_of postgres)"
    _pg_restore "$container" "${POSTGRES_DB:-transbot}" postgres-transbot.dump
    # Langfuse must not write while its tables are replaced.
    compose stop langfuse 2>&1 | redact_secrets
    _pg_restore "$container" langfuse postgres-langfuse.dump
    compose up -d langfuse 2>&1 | redact_secrets
}

# One transaction per database: a failure leaves that database untouched.
_pg_restore() {
    local container="$1" database="$2" file="$3"
    step "Restoring the $database database..."
    docker exec -i "$container" pg_restore --clean --if-exists --single-transaction --exit-on-error \
        --username "${POSTGRES_USER:-transbot_user}" --dbname "$database" <"$BACKUP/$file" ||
        die "restoring $file failed; the $database database was left as it was"
}

restore_redis() {
    step "Restoring Redis..."
    compose stop redis 2>&1 | redact_secrets
    compose run --rm --no-deps -T --user 0 --entrypoint sh redis -c "$(cat "$REPO_ROOT/services/redis/restore-rdb.sh")" \
        <"$BACKUP/redis.rdb" || {
        compose up -d redis 2>&1 | redact_secrets
        die "restoring Redis failed; its previous data was kept"
    }
    compose up -d redis 2>&1 | redact_secrets
}

RESTORE_SERVICES=()

main() {
    local service
    parse_args "$@"
    require_env
    require_docker
    if ((${#SERVICES[@]} == 0)) && [[ -f "$BACKUP/$MANIFEST" ]]; then
        # Default: what the backup holds.
        for service in postgres redis; do
            [[ -z "$(manifest_sha256 "$BACKUP" "$(backup_files_of "$service" | head -n 1)")" ]] || SERVICES+=("$service")
        done
    fi
    mapfile -t RESTORE_SERVICES < <(services_with_data)
    ((${#RESTORE_SERVICES[@]} > 0)) || usage_error "langfuse keeps its data in PostgreSQL; restore postgres instead"
    verify_backup
    info "This replaces the current data of: $(join_by_comma "${RESTORE_SERVICES[@]}")"
    info "with backup $(printable "$BACKUP") ($(awk '$1 == "created" { print $2 }' "$BACKUP/$MANIFEST"))."
    confirm_destruction "replace the current data" "nothing was restored"
    for service in "${RESTORE_SERVICES[@]}"; do
        "restore_$service"
    done
    SERVICES=("${RESTORE_SERVICES[@]}")
    [[ " ${SERVICES[*]} " != *" postgres "* ]] || SERVICES+=(langfuse)
    wait_until_healthy 300 || exit "$EXIT_FAILURE"
    ok "restored from $(printable "$BACKUP")"
}

main "$@"

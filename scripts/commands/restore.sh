# shellcheck shell=bash
# Restores a backup made by backup.sh into the running stack.

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
that database is left as it was. The services that depend on postgres
(Langfuse, and your own with depends_on: postgres) are stopped while its
databases are restored, so nothing writes meanwhile, and started again
afterwards, also when the restore fails. Redis is stopped, its data
replaced, and started again; its previous data is put back if that fails.

Options:
  -y, --yes    do not ask (required when there is no terminal to ask on)
  -h, --help   show this help

Exit status: 0 restored, 1 refused or failed, 2 usage error, 130 interrupted.
EOF
}

# The folder itself: it exists, is a folder, and has a MANIFEST that lists
# files. Relative paths are relative to where the user is, as for any command.
require_backup_folder() {
    local backup="$1" shown
    shown="$(printable "$backup")"
    [[ -e "$backup" ]] || die "$shown does not exist (relative paths are taken from $(printable "$PWD")); name a folder made by ./scripts/backup.sh, e.g. $(printable "$BACKUP_ROOT")/20260101T120000Z"
    [[ -d "$backup" ]] || die "$shown is not a folder; name a folder made by ./scripts/backup.sh"
    [[ -f "$backup/$MANIFEST" ]] || die "$shown is not a backup folder made by ./scripts/backup.sh (it has no $MANIFEST)"
    if grep -q $'\r' "$backup/$MANIFEST"; then
        die "$shown/$MANIFEST has Windows (CRLF) line endings, so it no longer matches its files; restore from an unmodified copy of the backup"
    fi
    [[ -n "$(manifest_files "$backup")" ]] ||
        die "$shown/$MANIFEST lists no files: the backup is incomplete or its MANIFEST was emptied; restore from another backup"
}

# The data services the backup holds, by the first file each contributes.
services_in_backup() {
    local backup="$1" service first
    while IFS= read -r service; do
        # Not `| head -n 1`: head may exit before the second line is written,
        # and under pipefail that SIGPIPE fails the whole lookup.
        first="$(backup_files_of "$service")"
        first="${first%%$'\n'*}"
        [[ -z "$(manifest_sha256 "$backup" "$first")" ]] || printf '%s\n' "$service"
    done < <(data_services)
}

# Every check that can refuse the backup, before anything is touched.
verify_backup() {
    local backup="$1" service file expected
    shift
    for service in "$@"; do
        while IFS= read -r file; do
            expected="$(manifest_sha256 "$backup" "$file")"
            [[ -n "$expected" && -f "$backup/$file" ]] ||
                die "the backup has no $service data ($file); it holds: $(manifest_files "$backup" | paste -sd ' ' -); nothing was restored"
            [[ "$(sha256_of "$backup/$file")" == "$expected" ]] ||
                die "$file in the backup is corrupt or truncated (its SHA-256 does not match the MANIFEST); nothing was restored"
        done < <(backup_files_of "$service")
    done
    for service in "$@"; do
        "verify_$(service_field "$service" backup)" "$backup" "$service"
    done
}

verify_pg_dump() {
    local backup="$1" service="$2" container database file
    container="$(running_container_of "$service")"
    while read -r database file; do
        docker exec -i "$container" pg_restore --list <"$backup/$file" >/dev/null 2>&1 ||
            die "$file is not a readable pg_dump archive; nothing was restored"
    done < <(postgres_dumps_of "$service")
}

verify_rdb() {
    local backup="$1" service="$2" container
    container="$(running_container_of "$service")"
    docker exec -i "$container" sh -c \
        'cat >/tmp/verify.rdb && redis-check-rdb /tmp/verify.rdb >/dev/null 2>&1; status=$?; rm -f /tmp/verify.rdb; exit $status' \
        <"$backup/$service.rdb" || die "$service.rdb is not a valid Redis snapshot; nothing was restored"
}

# Each database in one transaction: a failure leaves it untouched. The
# services that use the database (Langfuse) must not write meanwhile: they
# are stopped, and started again whatever happens.
restore_pg_dump() {
    local backup="$1" service="$2" model="$3" container database file
    local -a dependents
    container="$(running_container_of "$service")"
    mapfile -t dependents < <(model_dependents "$model" "$service")
    if ((${#dependents[@]} > 0)); then
        compose_or_die "docker compose stop failed (see above); nothing was restored" stop "${dependents[@]}"
    fi
    while read -r database file; do
        step "Restoring the $database database..."
        if ! docker exec -i "$container" pg_restore --clean --if-exists --single-transaction --exit-on-error \
            --username "$(setting POSTGRES_USER)" --dbname "$database" <"$backup/$file"; then
            ((${#dependents[@]} == 0)) || compose_up "${dependents[@]}" -- "${dependents[@]}" || true
            die "restoring $file failed (see above); the $database database was left as it was"
        fi
    done < <(postgres_dumps_of "$service")
    ((${#dependents[@]} == 0)) || compose_up "${dependents[@]}" -- "${dependents[@]}" ||
        die "docker compose up failed (see above); start them with ./scripts/start.sh ${dependents[*]}"
}

restore_rdb() {
    local backup="$1" service="$2"
    step "Restoring $service..."
    compose_or_die "docker compose stop failed (see above); nothing was restored" stop "$service"
    if ! in_service_container "$service" "$(cat "$REPO_ROOT/services/redis/restore-rdb.sh")" <"$backup/$service.rdb"; then
        compose_up "$service" -- "$service" || true
        die "restoring $service failed (see above); its previous data was kept"
    fi
    compose_up "$service" -- "$service" || die "docker compose up failed (see above); start it with ./scripts/start.sh $service"
}

main() {
    local assume_yes=false backup="" service model
    local -a services=() waiting=()
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            -y | --yes) assume_yes=true; shift ;;
            -*) unknown_option "$1" "-y --yes -h --help" ;;
            *)
                if [[ -z "$backup" ]]; then
                    backup="$1"
                else
                    require_service_syntax "$1"
                    services+=("$1")
                fi
                shift ;;
        esac
    done
    [[ -n "$backup" ]] || usage_error "name the backup folder to restore, e.g. backups/20260101T120000Z"
    require_data_services "${services[@]}"
    require_backup_folder "$backup"
    ((${#services[@]} > 0)) || mapfile -t services < <(services_in_backup "$backup")
    ((${#services[@]} > 0)) || die "$(printable "$backup") holds no data of $(data_services | paste -sd ' ' -); nothing was restored"
    needs env compose lock own-stack
    require_free_data_folders "$(running_containers)" "${services[@]}"
    verify_backup "$backup" "${services[@]}"
    model="$(compose_model)"
    info "This replaces the current data of: $(join_by_comma "${services[@]}")"
    info "with backup $(printable "$backup") ($(awk '$1 == "created" { print $2 }' "$backup/$MANIFEST"))."
    confirm_destruction "$assume_yes" "replace the current data" "nothing was restored"
    for service in "${services[@]}"; do
        "restore_$(service_field "$service" backup)" "$backup" "$service" "$model"
        waiting+=("$service")
        mapfile -t -O "${#waiting[@]}" waiting < <(model_dependents "$model" "$service")
    done
    wait_until_healthy 300 "${waiting[@]}" || exit "$EXIT_FAILURE"
    ok "restored from $(printable "$backup")"
}

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
        service_hook "$service" verify "$backup"
    done
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
        service_hook "$service" restore "$backup" "$model"
        waiting+=("$service")
        mapfile -t -O "${#waiting[@]}" waiting < <(model_dependents "$model" "$service")
    done
    wait_until_healthy 300 "${waiting[@]}" || exit "$EXIT_FAILURE"
    ok "restored from $(printable "$backup")"
}

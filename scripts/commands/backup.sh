# shellcheck shell=bash
# Backs up the running stack's data into backups/<timestamp>/.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...]

Backs up the data of the named services, or of all of them
($(data_services | paste -sd ' ' -)), while the stack runs, into a new
folder backups/<UTC timestamp>/ (ignored by git):
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

# How to run restore.sh on FOLDER from where the user is now.
restore_hint() {
    local folder="$1"
    if [[ "$PWD" -ef "$REPO_ROOT" ]]; then
        printf './scripts/restore.sh backups/%s' "$(basename "$folder")"
    else
        printf '%q %q' "$REPO_ROOT/scripts/restore.sh" "$folder"
    fi
}

# Set once the MANIFEST is written: until then, an exit removes the folder.
# shellcheck disable=SC2034 # read by the exit hook
BACKUP_COMPLETE=false

main() {
    local service folder
    local -a services
    parse_services services "$@"
    require_data_services "${services[@]}"
    ((${#services[@]} > 0)) || mapfile -t services < <(data_services)
    needs env engine lock own-stack
    umask 077
    folder="$(new_backup_folder)"
    # A failed backup must not look like a good one.
    at_exit "\$BACKUP_COMPLETE || rm -rf $(printf '%q' "$folder")"
    for service in "${services[@]}"; do
        step "Backing up $service..."
        service_hook "$service" backup "$folder"
    done
    write_manifest "$folder"
    # shellcheck disable=SC2034 # read by the exit hook
    BACKUP_COMPLETE=true
    ok "backup written to backups/$(basename "$folder") ($(du -sh "$folder" | cut -f1))"
    info "Restore it with: $(restore_hint "$folder")"
}

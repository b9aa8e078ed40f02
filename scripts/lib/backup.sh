# shellcheck shell=bash
# Backup folders: where they live, what they hold, and how they are checked.
# Shared by backup.sh and restore.sh. Sourced, never run.
#
# A backup is a folder backups/<UTC timestamp>/ with a MANIFEST listing each
# file and its SHA-256:
#   postgres-transbot.dump   pg_dump custom format of POSTGRES_DB
#   postgres-langfuse.dump   pg_dump custom format of the langfuse database
#   redis.rdb                a Redis snapshot
# Dumps are restorable by hand too: pg_restore -d DB FILE.

# shellcheck disable=SC2034 # read by backup.sh
readonly BACKUP_ROOT="$REPO_ROOT/backups"
readonly MANIFEST="MANIFEST"

# The files a service contributes to a backup.
backup_files_of() {
    case "$1" in
        postgres) printf '%s\n' postgres-transbot.dump postgres-langfuse.dump ;;
        redis) printf '%s\n' redis.rdb ;;
    esac
}

# The services that have data to back up, among the selected ones.
services_with_data() {
    local service
    while IFS= read -r service; do
        [[ -z "$(backup_files_of "$service")" ]] || printf '%s\n' "$service"
    done < <(selected_services)
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

# The SHA-256 the manifest of backup DIR records for FILE (empty if none).
manifest_sha256() {
    awk -v file="$2" '$1 == "sha256" && $3 == file { print $2 }' "$1/$MANIFEST"
}

# shellcheck shell=bash
# Backup folders: where they live, what they hold, and how they are checked.
# Shared by backup.sh and restore.sh. Sourced, never run.
#
# A backup is a folder backups/<UTC timestamp>/ with a MANIFEST listing each
# file and its SHA-256. Each built-in service with data contributes files by
# the backup method of its row in the service table (lib/services.sh):
#   pg_dump  <service>-transbot.dump, <service>-langfuse.dump: pg_dump custom
#            format of POSTGRES_DB and of the langfuse database
#   rdb      <service>.rdb: a Redis snapshot
# Dumps are restorable by hand too: pg_restore -d DB FILE.

# shellcheck disable=SC2034 # read by backup.sh
readonly BACKUP_ROOT="$REPO_ROOT/backups"
readonly MANIFEST="MANIFEST"

# The files SERVICE contributes to a backup, one a line.
backup_files_of() {
    case "$(service_field "$1" backup)" in
        pg_dump) printf '%s\n' "$1-transbot.dump" "$1-langfuse.dump" ;;
        rdb) printf '%s\n' "$1.rdb" ;;
    esac
}

# "DATABASE FILE" for each database a pg_dump service backs up.
postgres_dumps_of() {
    printf '%s %s\n' "$(setting POSTGRES_DB)" "$1-transbot.dump" langfuse "$1-langfuse.dump"
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

# The files the manifest of backup DIR lists, one a line.
manifest_files() {
    awk '$1 == "sha256" { print $3 }' "$1/$MANIFEST"
}

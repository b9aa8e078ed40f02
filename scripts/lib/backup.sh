# shellcheck shell=bash
# Backup folders: where they live, what they hold, and how they are checked.
# Shared by backup.sh and restore.sh. Sourced, never run.
#
# A backup is a folder backups/<UTC timestamp>/ with a MANIFEST listing each
# file and its SHA-256. Each built-in service with data contributes the
# files its backup hooks name, write, check and restore (lib/services/:
# postgres-transbot.dump and postgres-langfuse.dump, redis.rdb).

# shellcheck disable=SC2034 # read by backup.sh
readonly BACKUP_ROOT="$REPO_ROOT/backups"
readonly MANIFEST="MANIFEST"

# The files SERVICE contributes to a backup, one a line (none when it has
# no backup hooks).
backup_files_of() {
    service_has backup_files "$1" || return 0
    service_hook "$1" backup_files
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

# The MANIFEST of backup FOLDER: each file with its SHA-256 (restore.sh
# refuses a file that no longer matches).
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

# A new folder named by the time; a second backup within the same second
# gets a suffix instead of failing.
new_backup_folder() {
    local base suffix=""
    base="$BACKUP_ROOT/$(date -u +%Y%m%dT%H%M%SZ)"
    mkdir -p "$BACKUP_ROOT" 2>/dev/null || die "cannot create backups/: the repository folder is not writable by $(id -un)"
    until mkdir "$base$suffix" 2>/dev/null; do
        [[ -d "$base$suffix" ]] || die "cannot create $base$suffix: backups/ is not writable by $(id -un)"
        suffix="-$((${suffix#-} + 1))"
    done
    printf '%s' "$base$suffix"
}

# shellcheck shell=bash
# Moves the stack's PostgreSQL data to a newer major through a backup and a
# restore, keeping the old data folder; any failure puts the old one back.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME IMAGE [-y|--yes]
       $SCRIPT_NAME --revert [-y|--yes]
       $SCRIPT_NAME --discard-old [-y|--yes]

Upgrades volumes/postgres to the PostgreSQL major of IMAGE (e.g.
postgres:17-alpine), which must be newer than the one that made it. With
the stack running, it checks the free disk space, counts the rows of every
table, takes a backup (backups/<UTC timestamp>/, as ./scripts/backup.sh),
stops the stack, moves volumes/postgres aside to
volumes/postgres.<old major>-<timestamp> (kept), initialises the new major
with the same init files and roles, restores TransBot's and Langfuse's
databases, checks the row counts and both passwords, then sets
POSTGRES_IMAGE=IMAGE in .env.infra and starts the stack.
Any failure, or Ctrl-C, puts back the old folder and POSTGRES_IMAGE and
starts the old stack again.

  --revert        go back to the kept folder and its image; the current
                  volumes/postgres is kept aside in its turn
  --discard-old   delete the kept folders, after listing them with sizes

Options:
  -y, --yes    do not ask (required when there is no terminal to ask on)
  -h, --help   show this help

Exit status: 0 done, 1 failed (the old stack runs again) or declined,
2 usage error, 130 interrupted (the old stack runs again).
EOF
}

readonly UPGRADE_RECORD="$REPO_ROOT/volumes/postgres-upgrade.record"

# What the rollback has to undo, set as each step is done.
UPGRADE_STOPPED=false
UPGRADE_KEPT=""       # the old folder, once moved aside
UPGRADE_ENV_COPY=""   # .env.infra as it was, once it is rewritten
UPGRADE_OLD_IMAGE=""
UPGRADE_DONE=false

# An image reference as Docker takes it; anything else (an option, a
# path, spaces) is refused before anything runs.
require_image_syntax() {
    [[ "$1" =~ ^[a-z0-9][a-z0-9._/:@-]*$ && "$1" != *: ]] ||
        usage_error "'$(printable "$1")' is not an image name; name a PostgreSQL image, e.g. postgres:17-alpine"
}

# The major of IMAGE, pulled if it is not here; exit 2 unless it is a
# PostgreSQL image newer than OLD_MAJOR.
# Usage: target_major IMAGE OLD_MAJOR
target_major() {
    local image="$1" old="$2" major
    major="$(service_hook postgres image_major "$image")"
    if [[ -z "$major" ]] && ! docker image inspect -- "$image" >/dev/null 2>&1; then
        docker pull -- "$image" >&2 || die "cannot pull $(printable "$image"); nothing was changed"
        major="$(service_hook postgres image_major "$image")"
    fi
    [[ -n "$major" ]] ||
        usage_error "$(printable "$image") is not a PostgreSQL image (it sets no PG_MAJOR); name one such as postgres:17-alpine"
    ((major > old)) ||
        usage_error "$(printable "$image") is PostgreSQL $major and volumes/postgres is PostgreSQL $old: only a newer major is an upgrade"
    printf '%s' "$major"
}

# The major of the data: its PG_VERSION, else the running server's word.
current_major() {
    local major
    major="$(service_hook postgres data_major "$(setting POSTGRES_IMAGE)")"
    [[ -n "$major" ]] || major="$(service_hook postgres server_major "$(running_container_of postgres)")"
    [[ -n "$major" ]] || die "cannot tell which PostgreSQL major made volumes/postgres; start the stack with ./scripts/start.sh first"
    printf '%s' "$major"
}

# The new folder and the dumps need about the data's size each.
check_disk_space() {
    local container="$1" data_kb free_kb
    data_kb="$(docker exec "$container" du -sk /var/lib/postgresql/data | cut -f1)" ||
        die "cannot measure volumes/postgres; nothing was changed"
    free_kb="$(df -Pk "$REPO_ROOT/volumes" | awk 'NR == 2 { print $4 }')"
    ((free_kb >= 2 * data_kb)) ||
        die "not enough free disk space: the upgrade needs $((2 * data_kb / 1024)) MiB (a new data folder and a backup of $((data_kb / 1024)) MiB each) and $((free_kb / 1024)) MiB are free; nothing was changed"
}

# A backup made as backup.sh makes one, kept whatever happens next.
take_backup() {
    local folder
    umask 077
    folder="$(new_backup_folder)"
    service_hook postgres backup "$folder"
    write_manifest "$folder"
    ok "backup written to backups/$(basename "$folder")" >&2
    printf '%s' "$folder"
}

# Replaces POSTGRES_IMAGE's line of .env.infra (or adds one), atomically,
# keeping every other line and the file's mode.
# Usage: write_image_setting IMAGE
write_image_setting() {
    local file tmp
    file="$(resolve_symlinks "$ENV_FILE")"
    tmp="$(mktemp "$file.XXXXXX")"
    awk -v line="POSTGRES_IMAGE=$1" '
        /^[[:space:]]*(export[[:space:]]+)?POSTGRES_IMAGE[[:space:]]*=/ { if (!done) print line; done = 1; next }
        { print }
        END { if (!done) print line }' "$file" >"$tmp"
    chmod "$(stat -c '%a' "$file" 2>/dev/null || stat -f '%Lp' "$file")" "$tmp"
    mv -f -- "$tmp" "$file"
}

# Starts postgres alone on IMAGE and waits for it: on an empty
# volumes/postgres the image initialises it with the init files.
start_new_server() {
    local image="$1" major="$2" container running
    export POSTGRES_IMAGE="$image"
    mkdir -p "$REPO_ROOT/volumes/postgres"
    step "Initialising PostgreSQL $major ($(printable "$image"))..."
    compose_up postgres -- postgres || die "docker compose up of the new server failed (see above)"
    wait_until_healthy 300 postgres || die "the new PostgreSQL $major server did not become healthy"
    container="$(running_container_of postgres)"
    running="$(service_hook postgres server_major "$container")"
    [[ "$running" == "$major" ]] ||
        die "the server started is PostgreSQL ${running:-unknown}, not $major: an override file sets postgres's image; remove that image: line and run the upgrade again"
}

# The whole stack, as start.sh starts it. Not bring_up itself: the
# questions it asks Compose ahead were answered once in this process.
start_stack() {
    local -a services
    mapfile -t services < <(model_services "$STACK_MODEL")
    step "Starting the stack..."
    compose_up -- "${services[@]}" || die "docker compose up failed (see above)"
    wait_until_healthy 300 "${services[@]}" || die "the stack did not become healthy"
    ok "TransBot infrastructure is up:"
    print_summary "$STACK_MODEL" "${services[@]}"
}

# The row counts and the passwords, on the new server.
verify_new_server() {
    local container="$1" before="$2" after="$3"
    step "Verifying..."
    service_hook postgres row_counts "$container" >"$after"
    diff -u "$before" "$after" >&2 || die "the row counts of the new server differ from the old one's (above)"
    service_hook postgres check_passwords "$container"
    ok "every table has its rows ($(wc -l <"$after") tables; Langfuse's migrations: $(awk '$2 ~ /_prisma_migrations$/ { print $3 }' "$after"))"
}

# The exit hook: once the stack was stopped, anything but success puts the
# old data folder and image back and starts the old stack.
roll_back() {
    local what
    local -a services
    ! "$UPGRADE_DONE" && "$UPGRADE_STOPPED" || return 0
    warn "the upgrade did not finish; putting the old PostgreSQL back..."
    compose stop >/dev/null 2>&1
    if [[ -n "$UPGRADE_KEPT" && -d "$UPGRADE_KEPT" ]]; then
        discard_folder "$REPO_ROOT/volumes/postgres" && mv -- "$UPGRADE_KEPT" "$REPO_ROOT/volumes/postgres"
    fi
    [[ -z "$UPGRADE_ENV_COPY" ]] || cp -p -- "$UPGRADE_ENV_COPY" "$(resolve_symlinks "$ENV_FILE")"
    rm -f "$UPGRADE_RECORD"
    export POSTGRES_IMAGE="$UPGRADE_OLD_IMAGE"
    mapfile -t services < <(model_services "$STACK_MODEL")
    # Ctrl-C or SIGTERM: this line is the only one (exit 130 or 143 follows).
    what="upgrade failed"
    [[ -z "$STOPPED_BY" ]] || what="$STOPPED_BY"
    # shellcheck disable=SC2034 # read by the signal's handler (common.sh)
    SIGNAL_EXPLAINED=true
    if compose_up -- >/dev/null 2>&1 && wait_until_healthy 300 "${services[@]}" >/dev/null 2>&1; then
        error "$what: volumes/postgres and POSTGRES_IMAGE ($(printable "$UPGRADE_OLD_IMAGE")) are as they were, and the old stack runs again"
    else
        error "$what: volumes/postgres and POSTGRES_IMAGE are as they were, but the old stack did not start again; see ./scripts/start.sh"
    fi
}

# Deletes FOLDER (one this command made); its files belong to the
# server's uid, so a container deletes what this user cannot.
discard_folder() {
    local folder="$1"
    [[ -e "$folder" ]] || return 0
    rm -rf -- "$folder" 2>/dev/null && return 0
    docker run --rm --user 0 --entrypoint sh -v "$folder:/doomed" "$UPGRADE_OLD_IMAGE" \
        -c 'find /doomed -mindepth 1 -delete' >/dev/null && rmdir -- "$folder"
}

upgrade() {
    local image="$1" assume_yes="$2" old_major new_major container backup work stamp
    old_major="$(current_major)"
    new_major="$(target_major "$image" "$old_major")"
    container="$(running_container_of postgres)"
    check_disk_space "$container"
    info "This upgrades volumes/postgres from PostgreSQL $old_major to $new_major ($(printable "$image")); the stack stops meanwhile."
    info "Kept: a backup in backups/, and the old folder as volumes/postgres.$old_major-<timestamp>."
    confirm_destruction "$assume_yes" "upgrade" "nothing was changed"
    # Registered before the work folder's removal: exit hooks run in the
    # order they were added, and roll_back needs the copy of .env.infra kept
    # there.
    at_exit roll_back
    work="$(mktemp -d)"
    at_exit "rm -rf $(printf '%q' "$work")"
    step "Counting the rows of every table..."
    service_hook postgres row_counts "$container" >"$work/before"
    step "Backing up..."
    backup="$(take_backup)"
    UPGRADE_OLD_IMAGE="$(setting POSTGRES_IMAGE)"
    step "Stopping the stack..."
    UPGRADE_STOPPED=true
    compose_or_die "docker compose stop failed (see above)" stop
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    # Named before the move: a Ctrl-C right after it still finds it to put
    # back (roll_back only moves it back if the move happened).
    UPGRADE_KEPT="$REPO_ROOT/volumes/postgres.$old_major-$stamp"
    mv -- "$REPO_ROOT/volumes/postgres" "$UPGRADE_KEPT"
    start_new_server "$image" "$new_major"
    container="$(running_container_of postgres)"
    service_hook postgres load_backup "$container" "$backup"
    verify_new_server "$container" "$work/before" "$work/after"
    cp -p -- "$(resolve_symlinks "$ENV_FILE")" "$work/env"
    UPGRADE_ENV_COPY="$work/env"
    write_image_setting "$image"
    printf 'folder %s\nimage %s\n' "$(basename "$UPGRADE_KEPT")" "$UPGRADE_OLD_IMAGE" >"$UPGRADE_RECORD"
    start_stack
    UPGRADE_DONE=true
    ok "upgraded to PostgreSQL $new_major; the old data is kept in volumes/$(basename "$UPGRADE_KEPT")"
    info "Go back with: ./scripts/$SCRIPT_NAME --revert   Delete it with: ./scripts/$SCRIPT_NAME --discard-old"
}

# The kept folders, newest last.
kept_folders() {
    local folder
    for folder in "$REPO_ROOT"/volumes/postgres.[0-9]*-*; do
        [[ ! -d "$folder" ]] || printf '%s\n' "$folder"
    done
}

discard_old() {
    local assume_yes="$1" folder
    local -a folders
    mapfile -t folders < <(kept_folders)
    if ((${#folders[@]} == 0)); then
        ok "nothing to delete: no old PostgreSQL data folder is kept in volumes/"
        return 0
    fi
    info "This deletes, for good:"
    for folder in "${folders[@]}"; do
        info "  volumes/$(basename "$folder")  ($(du -sh "$folder" 2>/dev/null | cut -f1 || printf 'unknown size'))"
    done
    info "Kept: volumes/postgres (the data in use), .env.infra and backups/."
    confirm_destruction "$assume_yes" "delete this data" "nothing was deleted"
    UPGRADE_OLD_IMAGE="$(setting POSTGRES_IMAGE)"
    for folder in "${folders[@]}"; do
        discard_folder "$folder" || die "could not delete volumes/$(basename "$folder")"
        ok "deleted volumes/$(basename "$folder")"
    done
    rm -f "$UPGRADE_RECORD"
}

# The record an upgrade leaves: FIELD's value (folder, image).
recorded() {
    awk -v field="$1" '$1 == field { print $2 }' "$UPGRADE_RECORD" 2>/dev/null
}

revert() {
    local assume_yes="$1" folder image major stamp
    folder="$(recorded folder)"
    image="$(recorded image)"
    [[ -n "$folder" && -d "$REPO_ROOT/volumes/$folder" ]] ||
        die "no upgrade to revert: volumes/ keeps no old PostgreSQL folder made by $SCRIPT_NAME"
    major="$(service_hook postgres data_major "$(setting POSTGRES_IMAGE)")"
    info "This puts back volumes/$folder and POSTGRES_IMAGE=$image; the current volumes/postgres is kept aside (writes since the upgrade are not carried back)."
    confirm_destruction "$assume_yes" "revert" "nothing was changed"
    compose_or_die "docker compose stop failed (see above); nothing was changed" stop
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    mv -- "$REPO_ROOT/volumes/postgres" "$REPO_ROOT/volumes/postgres.${major:-new}-$stamp"
    mv -- "$REPO_ROOT/volumes/$folder" "$REPO_ROOT/volumes/postgres"
    write_image_setting "$image"
    export POSTGRES_IMAGE="$image"
    rm -f "$UPGRADE_RECORD"
    start_stack
    ok "reverted to volumes/$folder; the newer data is kept in volumes/postgres.${major:-new}-$stamp"
}

main() {
    local assume_yes=false mode="" image=""
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            -y | --yes) assume_yes=true; shift ;;
            --revert | --discard-old) [[ -z "$mode$image" ]] || usage_error "$1 takes no image and no other mode"; mode="$1"; shift ;;
            -*) unknown_option "$1" "--revert --discard-old -y --yes -h --help" ;;
            *) [[ -z "$mode$image" ]] || usage_error "name one image, or --revert or --discard-old"; image="$1"; shift ;;
        esac
    done
    [[ -n "$mode$image" ]] || usage_error "name the PostgreSQL image to upgrade to, e.g. postgres:17-alpine"
    [[ -z "$image" ]] || require_image_syntax "$image"
    needs env compose model lock own-stack
    case "$mode" in
        --revert) revert "$assume_yes" ;;
        --discard-old) discard_old "$assume_yes" ;;
        *) upgrade "$image" "$assume_yes" ;;
    esac
}

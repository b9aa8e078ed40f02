# shellcheck shell=bash
# Pulls newer images for the tags the running services use, within their
# major version, and recreates only the services whose image changed; the
# previous image is kept under a local tag, and any failure puts it back.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...] [--timeout SECONDS]
       $SCRIPT_NAME --revert [SERVICE...] [--timeout SECONDS]

Updates the images of the named built-in services, or of all of them
(${BUILTIN_SERVICES[*]}), to what their tags (e.g. redis:7-alpine) point
at now. With the stack running, it takes a backup (backups/<UTC
timestamp>/, as ./scripts/backup.sh), keeps each running image under the
local tag transbot-previous/<service>:<project>, pulls each tag, and
recreates only the services whose image changed, then waits until they
are healthy. For each service it prints the version the server reports and
the image digest, before and after.
An image of another major version (PostgreSQL 15 -> 17, Langfuse 2 -> 3)
is refused: nothing is recreated and the tag points at the previous image
again (PostgreSQL: ./scripts/upgrade-postgres.sh; Langfuse v3: see the
README). Any failure, or Ctrl-C, puts the previous images back under their
tags and recreates those services on them.

  --revert            go back to the images the last update replaced
  --timeout SECONDS   how long to wait for health (default 300)

Options:
  -h, --help   show this help

Image tags are shared by every clone on this Docker engine: an updated
tag is what the other clones' next start uses too.

Exit status: 0 done (or up to date), 1 failed or refused (the previous
images run again), 2 usage error, 130 interrupted (the previous images run
again).
EOF
}

# Which services the last updates changed: "SERVICE REFERENCE PREVIOUS_ID
# NEW_ID" lines, for --revert.
readonly UPDATE_RECORD="$REPO_ROOT/volumes/image-update.record"

# What the rollback has to undo, set as each step is done.
declare -A UPDATE_REF=()       # the reference each service's container runs, e.g. redis:7-alpine
declare -A UPDATE_OLD_ID=()    # the image its container runs
declare -A UPDATE_PRIOR_KEPT=() # what its kept tag held before this run (an ID, or empty)
UPDATE_PULLED=()               # the services whose tag a pull may have moved
UPDATE_RECREATED=()            # the services recreated on a new image
UPDATE_FAILURE=""              # why the update failed, for the rollback's line
UPDATE_DONE=false

# The local tag that keeps SERVICE's previous image: one per project, so
# two clones on one engine keep their own.
kept_tag() {
    printf 'transbot-previous/%s:%s' "$1" "$(project_name)"
}

# The ID of the local IMAGE (a reference or an ID); empty when absent.
image_id() {
    docker image inspect --format '{{.Id}}' -- "$1" 2>/dev/null || true
}

# The tag of REFERENCE ("latest" when it names none; empty when it is
# pinned by digest).
tag_of() {
    local reference="$1" last="${1##*/}"
    [[ "$reference" != *@* ]] || return 0
    if [[ "$last" == *:* ]]; then printf '%s' "${last##*:}"; else printf latest; fi
}

# The registry's digest of image ID for REFERENCE's repository (the one
# `docker pull` recorded), else its image ID: a locally built image has
# none. Shortened to 12 hex digits, as docker prints IDs.
# Usage: digest_of ID REFERENCE
digest_of() {
    local id="$1" repository="${2%@*}" digest
    [[ "${repository##*/}" != *:* ]] || repository="${repository%:*}"
    digest="$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' -- "$id" 2>/dev/null |
        awk -F@ -v repository="$repository" '$1 == repository { print $2; exit }')" || true
    if [[ -n "$digest" ]]; then printf '%s' "${digest:0:19}"; else printf 'image %s' "${id:0:19}"; fi
}

# The major version of SERVICE's IMAGE: its image_major hook (what the
# image itself says), else the number its tag starts with (langfuse:2).
# Usage: image_major SERVICE IMAGE REFERENCE
image_major() {
    local service="$1" image="$2" reference="$3" major=""
    ! service_has image_major "$service" || major="$(service_hook "$service" image_major "$image")"
    [[ -n "$major" ]] || [[ ! "$(tag_of "$reference")" =~ ^([0-9]+) ]] || major="${BASH_REMATCH[1]}"
    printf '%s' "$major"
}

# The version the server in CONTAINER reports ("unknown" when it says
# nothing).
# Usage: server_version SERVICE CONTAINER
server_version() {
    local version=""
    ! service_has server_version "$1" || version="$(service_hook "$1" server_version "$2")"
    printf '%s' "${version:-unknown}"
}

# Refuses (exit 1), before anything is done, a service whose major nothing
# tells (langfuse/langfuse:latest): an update could cross one unseen.
require_known_major() {
    local service="$1" reference="$2"
    [[ "$reference" != *@* ]] || return 0
    [[ -z "$(image_major "$service" "${UPDATE_OLD_ID[$service]}" "$reference")" ]] || return 0
    die "the tag of $service's image ($(printable "$reference")) names no major version, so a newer image under it may be a new major that needs a migration path (see the README, \"Upgrading\"); nothing was changed. Set ${service^^}_IMAGE in .env.infra to a tag that names the major the stack runs, or name the other services: ./scripts/$SCRIPT_NAME SERVICE..."
}

# Backs up every service with data, as backup.sh does, whatever happens next.
take_backup() {
    local folder service
    umask 077
    folder="$(new_backup_folder)"
    while read -r service; do
        service_hook "$service" backup "$folder"
    done < <(data_services)
    write_manifest "$folder"
    ok "backup written to backups/$(basename "$folder")"
}

# Puts IMAGE (an ID) under REFERENCE again.
# Usage: put_back_tag REFERENCE IMAGE
put_back_tag() {
    [[ "$(image_id "$1")" == "$2" ]] || docker tag "$2" "$1" >/dev/null 2>&1
}

# Recreates SERVICES on the images their tags name now, and waits.
# Usage: recreate TIMEOUT SERVICE...
recreate() {
    local timeout="$1"
    shift
    compose_up --no-deps "$@" -- "$@" >&2 || return 1
    wait_until_healthy "$timeout" "$@"
}

# The exit hook: unless the update finished, every tag a pull moved points
# at the previous image again, and the services recreated on a new one are
# recreated on it.
roll_back() {
    local service what
    ! "$UPDATE_DONE" || return 0
    for service in "${UPDATE_PULLED[@]}"; do
        if [[ "$(image_id "${UPDATE_REF[$service]}")" != "${UPDATE_OLD_ID[$service]}" ]]; then
            put_back_tag "${UPDATE_REF[$service]}" "${UPDATE_OLD_ID[$service]}"
        fi
        # The kept tag goes on keeping what an earlier update replaced.
        [[ -z "${UPDATE_PRIOR_KEPT[$service]:-}" ]] ||
            put_back_tag "$(kept_tag "$service")" "${UPDATE_PRIOR_KEPT[$service]}"
    done
    ((${#UPDATE_RECREATED[@]} > 0)) || return 0
    what="update failed${UPDATE_FAILURE:+ ($UPDATE_FAILURE)}"
    [[ -z "$STOPPED_BY" ]] || what="$STOPPED_BY"
    # shellcheck disable=SC2034 # read by the signal's handler (common.sh)
    SIGNAL_EXPLAINED=true
    if recreate "$UPDATE_TIMEOUT" "${UPDATE_RECREATED[@]}" >/dev/null 2>&1; then
        error "$what: the previous images are back under their tags and $(join_by_comma "${UPDATE_RECREATED[@]}") run on them again; data in volumes/ is kept"
    else
        error "$what: the previous images are back under their tags, but $(join_by_comma "${UPDATE_RECREATED[@]}") did not become healthy on them; see ./scripts/health-check.sh"
    fi
}

# Fails the update: the rollback says why, in its one line.
fail_update() {
    UPDATE_FAILURE="$1"
    exit "$EXIT_FAILURE"
}

# Replaces SERVICE's line of the record (or adds one), atomically.
# Usage: record_update SERVICE REFERENCE PREVIOUS_ID NEW_ID
record_update() {
    local tmp
    mkdir -p "$(dirname "$UPDATE_RECORD")"
    tmp="$(mktemp "$UPDATE_RECORD.XXXXXX")"
    { awk -v service="$1" '$1 != service' "$UPDATE_RECORD" 2>/dev/null || true
      printf '%s %s %s %s\n' "$@"; } >"$tmp"
    mv -f -- "$tmp" "$UPDATE_RECORD"
}

# The record's field number FIELD for SERVICE (2 reference, 3 previous, 4 new).
recorded() {
    awk -v service="$1" -v field="$2" '$1 == service { print $field }' "$UPDATE_RECORD" 2>/dev/null || true
}

forget_update() {
    local tmp
    [[ -f "$UPDATE_RECORD" ]] || return 0
    tmp="$(mktemp "$UPDATE_RECORD.XXXXXX")"
    awk -v service="$1" '$1 != service' "$UPDATE_RECORD" >"$tmp"
    if [[ -s "$tmp" ]]; then mv -f -- "$tmp" "$UPDATE_RECORD"; else rm -f -- "$tmp" "$UPDATE_RECORD"; fi
}

# What each running service runs now: its reference and image ID.
read_running() {
    local service container
    for service in "$@"; do
        container="$(running_container_of "$service")"
        UPDATE_REF[$service]="$(docker inspect --format '{{.Config.Image}}' "$container")"
        UPDATE_OLD_ID[$service]="$(docker inspect --format '{{.Image}}' "$container")"
    done
}

# Pulls each service's tag, keeping the running image under its kept tag
# first (a tag keeps it from `docker image prune`); sets UPDATE_CHANGED to
# the services whose tag now names another image. Not in a subshell: the
# rollback reads UPDATE_PULLED.
# Usage: pull_images SERVICE...
UPDATE_CHANGED=()
pull_images() {
    local service reference new kept prior
    for service in "$@"; do
        reference="${UPDATE_REF[$service]}"
        if [[ "$reference" == *@* ]]; then
            ok "$service is pinned to a digest ($(printable "$reference")): nothing to update"
            continue
        fi
        kept="$(kept_tag "$service")"
        prior="$(image_id "$kept")"
        UPDATE_PRIOR_KEPT[$service]="$prior"
        docker tag "${UPDATE_OLD_ID[$service]}" "$kept"
        step "Pulling $(printable "$reference")..."
        UPDATE_PULLED+=("$service")
        docker pull --quiet -- "$reference" >/dev/null ||
            die "could not pull $(printable "$reference") (see above); nothing was recreated"
        new="$(image_id "$reference")"
        if [[ "$new" != "${UPDATE_OLD_ID[$service]}" ]]; then
            UPDATE_CHANGED+=("$service")
            continue
        fi
        # Unchanged: the kept tag goes on keeping what an earlier update
        # replaced, for --revert.
        if [[ -n "$prior" ]]; then docker tag "$prior" "$kept"; else docker image rm "$kept" >/dev/null; fi
        ok "$service is up to date ($(printable "$reference"), $(digest_of "$new" "$reference"))"
    done
}

# Exit 1 if the new image of any of SERVICES is of another major than the
# running one; the rollback points the tags at the previous images again.
refuse_other_majors() {
    local service reference old new
    for service in "$@"; do
        reference="${UPDATE_REF[$service]}"
        old="$(image_major "$service" "${UPDATE_OLD_ID[$service]}" "$reference")"
        new="$(image_major "$service" "$reference" "$reference")"
        [[ "$old" != "$new" ]] || continue
        die "$(printable "$reference") now names $service ${new:-of an unknown version}, and $service ${old:-?} runs: $SCRIPT_NAME stays within a major; nothing was recreated and the tag names the previous image again. $(major_path "$service")"
    done
}

# Where a service's major upgrade is done.
major_path() {
    if service_has major_path "$1"; then
        service_hook "$1" major_path
    else
        printf 'See the README, "Upgrading".'
    fi
}

update() {
    local timeout="$1" service
    local -a services=("${@:2}") changed
    declare -A versions=()
    read_running "${services[@]}"
    for service in "${services[@]}"; do
        require_known_major "$service" "${UPDATE_REF[$service]}"
        versions[$service]="$(server_version "$service" "$(running_container_of "$service")")"
    done
    step "Backing up..."
    take_backup
    at_exit roll_back
    pull_images "${services[@]}"
    changed=("${UPDATE_CHANGED[@]}")
    if ((${#changed[@]} == 0)); then
        UPDATE_DONE=true
        ok "every image is up to date; nothing was recreated"
        return 0
    fi
    refuse_other_majors "${changed[@]}"
    step "Recreating $(join_by_comma "${changed[@]}") on the new images..."
    UPDATE_RECREATED=("${changed[@]}")
    recreate "$timeout" "${changed[@]}" ||
        fail_update "$(join_by_comma "${changed[@]}") did not become healthy on the new image"
    for service in "${changed[@]}"; do
        record_update "$service" "${UPDATE_REF[$service]}" "${UPDATE_OLD_ID[$service]}" "$(image_id "${UPDATE_REF[$service]}")"
    done
    UPDATE_DONE=true
    ok "updated:"
    for service in "${changed[@]}"; do
        report_line "$service" "${versions[$service]}" "${UPDATE_OLD_ID[$service]}"
    done
    info "Go back with: ./scripts/$SCRIPT_NAME --revert"
}

# "  redis     7.2.4 -> 7.2.5  sha256:abc... -> sha256:def..."
# Usage: report_line SERVICE OLD_VERSION OLD_ID
report_line() {
    local service="$1" reference="${UPDATE_REF[$1]}" new
    new="$(image_id "$reference")"
    info "  $(printf '%-9s' "$service") $2 -> $(server_version "$service" "$(running_container_of "$service")")  $(digest_of "$3" "$reference") -> $(digest_of "$new" "$reference")"
}

# Goes back to the images the last update replaced, for SERVICES (all it
# changed when none is named).
revert() {
    local timeout="$1" service reference previous
    local -a services=("${@:2}") reverting=()
    declare -A versions=()
    ((${#services[@]} > 0)) || mapfile -t services < <(awk '{ print $1 }' "$UPDATE_RECORD" 2>/dev/null || true)
    for service in "${services[@]}"; do
        previous="$(recorded "$service" 3)"
        [[ -n "$previous" ]] || die "no update of $service to revert: $SCRIPT_NAME has not changed its image since (volumes/image-update.record)"
        [[ -n "$(image_id "$previous")" ]] ||
            die "the image $service ran before the update ($previous) is no longer on this engine (removed by docker image prune?); nothing was changed"
        reverting+=("$service")
    done
    ((${#reverting[@]} > 0)) || die "no update to revert: $SCRIPT_NAME has not changed any image of this stack"
    read_running "${reverting[@]}"
    for service in "${reverting[@]}"; do
        reference="$(recorded "$service" 2)"
        [[ "$reference" == "${UPDATE_REF[$service]}" ]] ||
            die "$service runs $(printable "${UPDATE_REF[$service]}") now, not $(printable "$reference") which the update changed; nothing was changed"
        versions[$service]="$(server_version "$service" "$(running_container_of "$service")")"
    done
    step "Backing up..."
    take_backup
    at_exit roll_back
    for service in "${reverting[@]}"; do
        UPDATE_PULLED+=("$service")
        docker tag "$(recorded "$service" 3)" "${UPDATE_REF[$service]}"
    done
    step "Recreating $(join_by_comma "${reverting[@]}") on the previous images..."
    UPDATE_RECREATED=("${reverting[@]}")
    recreate "$timeout" "${reverting[@]}" ||
        fail_update "$(join_by_comma "${reverting[@]}") did not become healthy on the previous image"
    UPDATE_DONE=true
    ok "reverted:"
    for service in "${reverting[@]}"; do
        report_line "$service" "${versions[$service]}" "${UPDATE_OLD_ID[$service]}"
        forget_update "$service"
    done
}

UPDATE_TIMEOUT=300

main() {
    local mode=update name
    local -a args services=()
    split_option_values args "--timeout" "--revert --help" "$@"
    set -- "${args[@]}"
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            --revert) mode=revert; shift ;;
            --timeout) need_value "$@"; require_seconds "$1" "$2"; UPDATE_TIMEOUT="$((10#$2))"; shift 2 ;;
            -*) unknown_option "$1" "--revert --timeout -h --help" ;;
            *) services+=("$1"); shift ;;
        esac
    done
    for name in "${services[@]}"; do
        is_builtin "$name" ||
            usage_error "unknown service '$(printable "$name")'; $SCRIPT_NAME updates the images of the built-in services: ${BUILTIN_SERVICES[*]}"
    done
    [[ "$mode" == revert ]] || ((${#services[@]} > 0)) || services=("${BUILTIN_SERVICES[@]}")
    needs env compose lock own-stack
    "$mode" "$UPDATE_TIMEOUT" "${services[@]}"
}

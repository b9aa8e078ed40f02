# shellcheck shell=bash
# Deletes the data of the named services (or of the whole stack), after
# saying exactly what goes and asking. The only script that deletes data.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...] [-y|--yes]

Deletes the data of the named services, or of every built-in service that
keeps data ($(data_services | paste -sd ' ' -)): the contents of
./volumes/<service>. It lists what it will delete with sizes and asks
first. The services, and those that depend on them, are stopped;
.env.infra and other services' data are left alone. Afterwards
./scripts/start.sh brings them up fresh and initialised.

langfuse keeps its data in PostgreSQL (database "langfuse"), so resetting
postgres also clears Langfuse; langfuse is stopped with it. Services of
your override files keep their data themselves: reset.sh refuses them.
It also refuses a data folder that is a symlink or lies outside the
repository (Docker would follow the link): delete such data by hand.

Options:
  -y, --yes    do not ask (required when there is no terminal to ask on)
  -h, --help   show this help

Exit status: 0 deleted (or nothing to delete), 1 failed or declined,
2 usage error (including no terminal and no --yes), 130 interrupted.
EOF
}

# The size of a data folder. The files belong to the containers' users
# (uid 70, 999), so a non-root user may need a container to read them.
folder_size() {
    local service="$1" size
    if size="$(du -sh "$REPO_ROOT/volumes/$(service_field "$service" data)" 2>/dev/null)"; then
        printf '%s' "${size%%[[:space:]]*}"
    else
        in_service_container "$service" "du -sh $(service_field "$service" mount) | cut -f1" </dev/null 2>/dev/null ||
            printf 'unknown size'
    fi
}

has_data() {
    local folder
    folder="$REPO_ROOT/volumes/$(service_field "$1" data)"
    [[ -d "$folder" ]] && [[ -n "$(ls -A "$folder" 2>/dev/null || echo unreadable)" ]]
}

# reset.sh deletes through a container that mounts volumes/SERVICE, and
# Docker follows symlinks: the target of a symlinked data folder (or of a
# symlinked volumes/) would be emptied while the listing showed the size of
# the link. Only data inside this repository is deleted; data elsewhere is
# for the user to delete by hand.
require_data_folder_in_repository() {
    local relative folder target
    relative="volumes/$(service_field "$1" data)"
    folder="$REPO_ROOT/$relative"
    if [[ -L "$folder" ]]; then
        # Shown as the folder it really is, where this user may enter it.
        target="$(cd -P "$folder" 2>/dev/null && pwd)" || target="$(resolve_symlinks "$folder")"
        die "$relative is a symlink to $(printable "$target"); reset.sh deletes only data inside this repository, so nothing was deleted. If you mean to delete that data, delete it by hand (and the link: rm $relative)"
    fi
    [[ -d "$folder" ]] || return 0
    # The folder itself is no symlink: where volumes/ really is decides. (A
    # non-root user may not enter the folder: uid 70 keeps it 0700.)
    target="$(cd -P "$REPO_ROOT/volumes" && pwd)/$(service_field "$1" data)"
    [[ "$target" == "$REPO_ROOT/"* ]] ||
        die "$relative is $(printable "$target"), outside this repository (through a symlinked volumes/); reset.sh deletes only data inside this repository, so nothing was deleted. If you mean to delete that data, delete it by hand"
}

main() {
    local assume_yes=false service model
    local -a services=() targets=() to_stop=()
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            -y | --yes) assume_yes=true; shift ;;
            -*) unknown_option "$1" "-y --yes -h --help" ;;
            *) require_service_syntax "$1"; services+=("$1"); shift ;;
        esac
    done
    require_data_services "${services[@]}"
    ((${#services[@]} > 0)) || mapfile -t services < <(data_services)
    for service in "${services[@]}"; do
        require_data_folder_in_repository "$service"
    done
    needs env-if-present compose lock own-stack
    for service in "${services[@]}"; do
        has_data "$service" && targets+=("$service")
    done
    if ((${#targets[@]} == 0)); then
        ok "nothing to delete: the data folders of $(join_by_comma "${services[@]}") are empty"
        return 0
    fi
    # Refused before anything is stopped: another stack's server on this
    # data would go on writing into what is deleted.
    require_free_data_folders "$(running_containers)" "${targets[@]}"
    model="$(compose_model)"
    for service in "${targets[@]}"; do
        to_stop+=("$service")
        mapfile -t -O "${#to_stop[@]}" to_stop < <(model_dependents "$model" "$service")
    done
    info "This deletes, for good:"
    for service in "${targets[@]}"; do
        info "  volumes/$(service_field "$service" data)  ($(folder_size "$service"))"
    done
    info "Kept: .env.infra and the data of every other service."
    confirm_destruction "$assume_yes" "delete this data" "nothing was deleted"
    step "Stopping $(join_by_comma "${to_stop[@]}")..."
    compose_or_die "docker compose stop failed (see above); nothing was deleted" stop "${to_stop[@]}"
    for service in "${targets[@]}"; do
        in_service_container "$service" "find $(service_field "$service" mount) -mindepth 1 -delete" </dev/null ||
            die "could not delete volumes/$(service_field "$service" data); it is stopped, see the error above"
        ok "deleted volumes/$(service_field "$service" data)"
    done
    info "Start fresh with: ./scripts/start.sh"
}

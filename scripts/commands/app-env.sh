# shellcheck shell=bash
# Prints (or writes) the settings TransBot needs in its own .env.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [--write FILE]

Prints the block TransBot's own .env needs to use this stack:
DATABASE_URL, REDIS_URL, LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and
LANGFUSE_HOST, built from .env.infra and the ports in use: those the
running stack publishes, else those of the configuration as Compose
resolves it (passwords are percent-encoded, so any character is safe in
the URLs).

This output contains credentials: it is meant for TransBot's .env file.

Options:
  --write FILE   put the block into FILE between "# >>> transbot-infra >>>"
                 markers, replacing an earlier block; other lines stay
                 untouched; FILE ends up readable by you alone (0600)
  -h, --help     show this help

Exit status: 0 done, 1 failed, 2 usage error.
EOF
}

readonly BLOCK_START="# >>> transbot-infra >>> (written by scripts/app-env.sh; edits inside are replaced)"
readonly BLOCK_END="# <<< transbot-infra <<<"
readonly APP_KEYS=(DATABASE_URL REDIS_URL LANGFUSE_PUBLIC_KEY LANGFUSE_SECRET_KEY LANGFUSE_HOST)
WRITE_TO=""

parse_args() {
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            --write) need_value "$@"; WRITE_TO="$2"; shift 2 ;;
            -*) unknown_option "$1" "--write -h --help" ;;
            *) usage_error "unexpected argument '$(printable "$1")'; to write a file use --write FILE" ;;
        esac
    done
}

# The ports in use, as "SERVICE HOST_IP PUBLISHED TARGET" lines: the
# engine's for the built-in services this clone runs (a stack started with
# another port in the shell, or moved by an override, runs there), the
# configuration's as Compose resolves it for the others. Without Docker,
# none: the ports of .env.infra then.
ports_in_use() {
    local id service folder found model
    local -a missing=()
    local -A running=()
    command -v docker >/dev/null 2>&1 || return 0
    while read -r id service folder; do
        [[ -z "${running[$service]:-}" && "$folder" -ef "$REPO_ROOT" ]] || continue
        running[$service]="$id"
    done < <(project_containers 2>/dev/null || true)
    for service in "${BUILTIN_SERVICES[@]}"; do
        found=""
        [[ -z "${running[$service]:-}" ]] || found="$(engine_ports "$service" "${running[$service]}")"
        if [[ -n "$(published_port "$service" "$found")" ]]; then
            printf '%s\n' "$found"
        else
            missing+=("$service")
        fi
    done
    ((${#missing[@]} > 0)) || return 0
    if ! model="$( (detect_compose && compose_model) 2>/dev/null)"; then
        warn "could not resolve the configuration (docker compose config); the ports printed are those of .env.infra"
        return 0
    fi
    model_ports "$model" | awk -v wanted=" ${missing[*]} " 'index(wanted, " " $1 " ")'
}

# Each built-in service's settings (its app_env hook, lib/services/), in
# the order of APP_KEYS.
app_env_block() {
    local host ports service line key
    local -A values=()
    host="$(url_host)"
    ports="$(ports_in_use)"
    for service in "${BUILTIN_SERVICES[@]}"; do
        service_has app_env "$service" || continue
        while IFS= read -r line; do
            values[${line%%=*}]="${line#*=}"
        done < <(service_hook "$service" app_env "$host" "$ports")
    done
    printf '%s\n' "$BLOCK_START"
    for key in "${APP_KEYS[@]}"; do
        printf '%s=%s\n' "$key" "${values[$key]}"
    done
    printf '%s\n' "$BLOCK_END"
}

# Prints FILE with BLOCK in place of each transbot-infra block, or with
# BLOCK appended when it has none. Returns 3 when a start marker has no end
# marker, 1 when a write fails (the caller runs it without errexit).
merged_contents() {
    local file="$1" block="$2" line inside=false written=false
    while IFS= read -r line || [[ -n "$line" ]]; do
        if [[ "$line" == "# >>> transbot-infra >>>"* ]]; then
            inside=true
            written=true
            printf '%s\n' "$block" || return 1
        elif $inside; then
            [[ "$line" != "$BLOCK_END" ]] || inside=false
        else
            printf '%s\n' "$line" || return 1
        fi
    done <"$file"
    if $inside; then
        return 3
    fi
    $written || printf '%s\n' "$block" || return 1
}

# "readable" or "writable": what MODE (octal) lets others do, for messages.
open_to_others() {
    if (((8#$1 & 8#044) != 0)); then printf readable; else printf writable; fi
}

# Replaces the block in FILE (or appends it), keeping every other line. The
# new contents go to a temporary file in the real file's folder and are
# renamed over it: a reader never sees half a file, a failure leaves the old
# one, and a symlink FILE stays a symlink.
write_block() {
    local file="$1" real="$1" block tmp merge_status=0 key mode private
    if [[ -L "$file" ]]; then
        # Write through the link to the file it points to (a dotfiles
        # repository, say), so that FILE stays a link.
        real="$(readlink -f -- "$file")" ||
            die "cannot write $file: it is a symlink into a folder that does not exist; fix the link"
    fi
    if [[ ! -e "$real" ]]; then
        [[ -d "$(dirname -- "$real")" ]] || die "cannot write $file: its folder does not exist; create it first, or pick another file"
        (umask 077 && : >"$real") 2>/dev/null || die "cannot write $file: its folder is not writable"
    fi
    [[ -f "$real" && -w "$real" ]] || die "cannot write $file: not a writable regular file"
    block="$(app_env_block)"
    tmp="$(mktemp "$real.XXXXXX" 2>/dev/null)" || die "cannot write $file: cannot create a temporary file beside $real"
    # The block holds passwords: the file keeps its owner's permissions and
    # loses everyone else's.
    mode="$(stat -c '%a' "$real" 2>/dev/null || stat -f '%Lp' "$real")"
    private="$(printf '%04o' "$((8#$mode & 8#700))")"
    chmod "$private" "$tmp"
    merged_contents "$real" "$block" >"$tmp" || merge_status=$?
    if ((merge_status == 3)); then
        rm -f -- "$tmp"
        die "$file has a '# >>> transbot-infra >>>' line without its end marker; fix the file by hand"
    elif ((merge_status != 0)) || ! mv -f -- "$tmp" "$real"; then
        rm -f -- "$tmp"
        die "cannot write $file (is the disk full?); it was left as it was"
    fi
    if ((8#$mode != 8#$private)); then
        warn "$file was $(open_to_others "$mode") by others (mode $(printf '%04o' "$((8#$mode))")); it is now $private, as it holds passwords"
    fi
    for key in "${APP_KEYS[@]}"; do
        if grep -Eq "^[[:space:]]*(export[[:space:]]+)?${key}=" <(sed "/^# >>> transbot-infra >>>/,/^$BLOCK_END\$/d" "$real"); then
            warn "$file also sets $key outside the transbot-infra block; remove that line, or it may win"
        fi
    done
    ok "wrote the TransBot settings to $file"
}

main() {
    parse_args "$@"
    # .env.infra's passwords work only on this clone's stack: beside another
    # clone's stack of the same name they would be printed with exit 0 and
    # fail in TransBot. Without Docker, nothing runs that could be another
    # clone's, and the settings are printed for a later start.
    needs env own-stack-if-engine
    if [[ -n "$WRITE_TO" ]]; then
        write_block "$WRITE_TO"
    else
        app_env_block
    fi
}

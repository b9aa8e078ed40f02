#!/usr/bin/env bash
# Prints (or writes) the settings TransBot needs in its own .env.
# The library, found through symlinks without readlink -f (macOS < 12.3 has none).
_self="$0"; while [[ -L "$_self" ]]; do _link="$(readlink "$_self")"; [[ "$_link" == /* ]] || _link="$(dirname -- "$_self")/$_link"; _self="$_link"; done
# shellcheck source=scripts/lib/all.sh
source "$(dirname -- "$_self")/lib/all.sh"

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [--write FILE]

Prints the block TransBot's own .env needs to use this stack:
DATABASE_URL, REDIS_URL, LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and
LANGFUSE_HOST, built from .env.infra and the ports in use (passwords are
percent-encoded, so any character is safe in the URLs).

This output contains credentials: it is meant for TransBot's .env file.

Options:
  --write FILE   put the block into FILE (created with mode 0600 if
                 missing) between "# >>> transbot-infra >>>" markers,
                 replacing an earlier block; other lines stay untouched
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

# RFC 3986 percent-encoding: every byte but the unreserved characters.
urlencode() {
    local LC_ALL=C text="$1" i char
    for ((i = 0; i < ${#text}; i++)); do
        char="${text:i:1}"
        case "$char" in
            [A-Za-z0-9._~-]) printf '%s' "$char" ;;
            *) printf '%%%02X' "'$char" ;;
        esac
    done
}

app_env_block() {
    local host
    host="$(probe_host)"
    printf '%s\n' "$BLOCK_START"
    printf 'DATABASE_URL=postgresql://%s:%s@%s:%s/%s\n' "$(urlencode "${POSTGRES_USER:-transbot_user}")" \
        "$(urlencode "$POSTGRES_PASSWORD")" "$host" "$(port_of postgres)" "$(urlencode "${POSTGRES_DB:-transbot}")"
    printf 'REDIS_URL=redis://:%s@%s:%s/0\n' "$(urlencode "$REDIS_PASSWORD")" "$host" "$(port_of redis)"
    printf 'LANGFUSE_PUBLIC_KEY=%s\n' "$LANGFUSE_PUBLIC_KEY"
    printf 'LANGFUSE_SECRET_KEY=%s\n' "$LANGFUSE_SECRET_KEY"
    printf 'LANGFUSE_HOST=http://localhost:%s\n' "$(port_of langfuse)"
    printf '%s\n' "$BLOCK_END"
}

# Replaces the block in FILE (or appends it), keeping every other line.
write_block() {
    local file="$1" tmp line inside=false written=false key
    if [[ ! -e "$file" ]]; then
        [[ -d "$(dirname -- "$file")" ]] || die "cannot write $file: its folder does not exist; create it first, or pick another file"
        (umask 077 && : >"$file") 2>/dev/null || die "cannot write $file: its folder is not writable"
    fi
    [[ -f "$file" && -w "$file" ]] || die "cannot write $file: not a writable regular file"
    tmp="$(mktemp "$file.XXXXXX")"
    chmod "$(stat -L -c '%a' "$file" 2>/dev/null || stat -L -f '%Lp' "$file")" "$tmp"
    {
        while IFS= read -r line || [[ -n "$line" ]]; do
            if [[ "$line" == "# >>> transbot-infra >>>"* ]]; then
                inside=true
                app_env_block
                written=true
            elif $inside; then
                [[ "$line" != "$BLOCK_END" ]] || inside=false
            else
                printf '%s\n' "$line"
            fi
        done <"$file"
        $written || app_env_block
    } >"$tmp"
    $inside && { rm -f "$tmp"; die "$file has a '# >>> transbot-infra >>>' line without its end marker; fix the file by hand"; }
    mv -f "$tmp" "$file"
    for key in "${APP_KEYS[@]}"; do
        if grep -Eq "^[[:space:]]*(export[[:space:]]+)?${key}=" <(sed "/^# >>> transbot-infra >>>/,/^$BLOCK_END\$/d" "$file"); then
            warn "$file also sets $key outside the transbot-infra block; remove that line, or it may win"
        fi
    done
    ok "wrote the TransBot settings to $file"
}

main() {
    parse_args "$@"
    require_env
    if [[ -n "$WRITE_TO" ]]; then
        write_block "$WRITE_TO"
    else
        app_env_block
    fi
}

main "$@"

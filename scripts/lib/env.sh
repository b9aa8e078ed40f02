# shellcheck shell=bash
# .env.infra: creating it with generated secrets, reading it the way Compose
# does, refusing values the stack cannot work with, and keeping its secrets
# out of output (redact_secrets, here beside the code that knows which
# variables are secrets). Sourced, never run.

readonly ENV_FILE="$REPO_ROOT/.env.infra"
readonly ENV_EXAMPLE="$REPO_ROOT/.env.infra.example"

# The placeholder every secret has in .env.infra.example.
readonly PLACEHOLDER="change-me"

# Variables read from .env.infra by load_env_file, in file order.
ENV_KEYS=()

# --- Generating secrets ---------------------------------------------------------

# N random bytes as 2N lower-case hex characters: safe in URLs, on command
# lines and in YAML, and needs nothing beyond coreutils.
random_hex() {
    od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# A random (version 4) UUID.
random_uuid() {
    local hex
    hex="$(random_hex 16)"
    printf '%s-%s-4%s-%x%s-%s' "${hex:0:8}" "${hex:8:4}" "${hex:13:3}" \
        "$(((0x${hex:16:1} & 0x3) | 0x8))" "${hex:17:3}" "${hex:20:12}"
}

# A fresh value for the secret called NAME, in the form Langfuse expects.
generate_secret() {
    case "$1" in
        LANGFUSE_ENCRYPTION_KEY) random_hex 32 ;;
        LANGFUSE_PUBLIC_KEY) printf 'pk-lf-%s' "$(random_uuid)" ;;
        LANGFUSE_SECRET_KEY) printf 'sk-lf-%s' "$(random_uuid)" ;;
        *) random_hex 16 ;;
    esac
}

# Rewrites FILE with every placeholder value replaced by a generated secret;
# all other lines stay exactly as they were, and so does the file's mode.
# Prints the names it filled, one a line.
fill_placeholders() {
    local file="$1" tmp line filled=()
    tmp="$(mktemp "$file.XXXXXX")" # mktemp creates it 0600
    {
        while IFS= read -r line || [[ -n "$line" ]]; do
            if [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=$PLACEHOLDER$ ]]; then
                filled+=("${BASH_REMATCH[1]}")
                printf '%s=%s\n' "${BASH_REMATCH[1]}" "$(generate_secret "${BASH_REMATCH[1]}")"
            else
                printf '%s\n' "$line"
            fi
        done <"$file"
    } >"$tmp"
    mv -f "$tmp" "$file"
    ((${#filled[@]} == 0)) || printf '%s\n' "${filled[@]}"
}

# Creates .env.infra from the example with fresh secrets, mode 0600. Never
# touches an existing file.
create_env_file() {
    local filled tmp created=false
    [[ ! -e "$ENV_FILE" ]] || return 0
    [[ -r "$ENV_EXAMPLE" ]] || die ".env.infra.example is missing; restore it with: git checkout -- .env.infra.example"
    # A temporary file of this process alone (mktemp creates it 0600, and cp
    # keeps that mode), so two commands on a fresh clone never write into
    # each other's file.
    tmp="$(mktemp "$ENV_FILE.XXXXXX")"
    cp "$ENV_EXAMPLE" "$tmp"
    filled="$(fill_placeholders "$tmp")"
    # ln never replaces an existing file: if another command created
    # .env.infra meanwhile, that one stays and this one is dropped. Where hard
    # links are not supported, mv -n does the same (and leaves TMP in place
    # when it does not move it).
    if ln "$tmp" "$ENV_FILE" 2>/dev/null; then
        created=true
    elif [[ ! -e "$ENV_FILE" ]] && mv -n "$tmp" "$ENV_FILE" && [[ ! -e "$tmp" ]]; then
        created=true
    fi
    rm -f "$tmp"
    [[ "$created" == true ]] || return 0
    step "Created .env.infra with $(grep -c . <<<"$filled") generated secrets (mode 0600, values not shown)."
}

# --- Reading ------------------------------------------------------------------
#
# Three parsers read .env.infra: these scripts, Compose v2 (compose-go) and
# Compose v1 (python-dotenv). They agree on plain lines and differ on many
# odd ones, so the scripts accept only what both Compose versions read alike,
# and refuse any other line with its number, the variable's name (never its
# value) and the fix. tests/lint/test_env_differential.py holds them to it.
#
# Accepted:
#   - blank lines, and lines whose first non-blank character is #
#   - [export ]KEY=VALUE: KEY is a letter or _ then letters, digits or _;
#     blanks may surround KEY and follow the =
#   - VALUE unquoted: ends at the first " #" (a comment), loses trailing
#     blanks, and is taken as it is (backslashes included)
#   - VALUE in 'single quotes': taken as it is
#   - VALUE in "double quotes": \\ is a backslash, \" a quote; any other
#     backslash stays as it is; it cannot end in a backslash
#   - after a closing quote: only blanks, or blanks and a # comment
# Refused, each with its own message: a byte-order mark, CRLF line endings,
# bytes that are not UTF-8, control characters (other than tab) and Unicode
# spaces outside comment lines, a line that is not KEY=VALUE, a variable set
# twice (Compose takes the last value), a variable called export, a value
# spanning lines, text after a closing quote; in any value a $ outside single
# quotes (Compose would expand it); in single quotes ${ (v1 expands it), \\
# or \' or a final backslash (v1 and v2 unescape them differently); in double
# quotes \n \r \t \a \b \f \v (Compose turns them into control characters),
# \' (v1 drops the backslash, v2 keeps it) and a final backslash (v1 reads
# the closing quote as escaped); in an unquoted value a tab right before #
# (v1 starts a comment there, v2 does not).

# The longest value a variable may have, in bytes. Redis 7 refuses a
# longer AUTH argument from a client not yet logged in ("Protocol error:
# unauthenticated bulk length"): a longer REDIS_PASSWORD starts a Redis no
# client, healthcheck included, can log in to. Every value reaches Compose,
# the containers and the probes through environment variables, which Linux
# limits to 128 KiB each and, all together with the arguments, to ARG_MAX
# (2 MiB by default), and redact_secrets holds each secret twice: at 64 KiB
# each, all of them fit. (PostgreSQL itself took a 100 KB password.)
readonly REDIS_PASSWORD_MAX_BYTES=16384
readonly ENV_VALUE_MAX_BYTES=65536

# Whether the value VALUE of NAME is too long; if so, _ENV_TOO_LONG says
# why (a global: no subshell for each of .env.infra's lines). Counts bytes,
# in any locale.
# Usage: _env_too_long NAME VALUE
_ENV_TOO_LONG=""
_env_too_long() {
    local LC_ALL=C
    local name="$1" length="${#2}"
    if [[ "$name" == REDIS_PASSWORD ]] && ((length > REDIS_PASSWORD_MAX_BYTES)); then
        _ENV_TOO_LONG="is $length bytes long, and Redis accepts a password of at most $REDIS_PASSWORD_MAX_BYTES bytes; set a shorter one (or set it to $PLACEHOLDER and run ./scripts/init-env.sh to generate one)"
    elif ((length > ENV_VALUE_MAX_BYTES)); then
        _ENV_TOO_LONG="is $length bytes long, and a value may have at most $ENV_VALUE_MAX_BYTES bytes (it reaches Docker and the services in environment variables, which Linux limits); set a shorter one"
    else
        return 1
    fi
}

# The value of the line _env_value parsed last (a global, so parsing a line
# needs no subshell and a refusal exits the script itself).
_ENV_VALUE=""

# Byte patterns, matched with LC_ALL=C whatever the user's locale.
readonly _ENV_BOM=$'\xef\xbb\xbf'
# Control characters other than tab; a NUL byte arrives as \x01.
readonly _ENV_CONTROL=$'[\x01-\x08\x0b-\x1f\x7f]'
# U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F and
# U+3000 in UTF-8: v1 trims all of them around a value, v2 only the first two.
readonly _ENV_UNICODE_SPACE=$'\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80'
readonly _ENV_ASSIGNMENT='^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=(.*)$'

# Reads FILE as Compose reads an env file (see above), and exports each
# variable unless the shell already has it: a variable set in the
# environment wins over the file, as it does for Compose. Exporting the
# parsed values means Compose v1 and v2 see the very same strings, whatever
# quotes or symbols a password holds.
load_env_file() {
    local file="$1" name line number=0 key
    local -A first_line=()
    # The rules are about bytes: match them byte by byte in every locale.
    local LC_ALL=C
    name="${file##*/}"
    [[ -r "$file" ]] || die "$name cannot be read; check its owner and mode: ls -l $name"
    if grep -q $'\r$' "$file"; then
        die "$name has Windows (CRLF) line endings; convert it with: sed -i 's/\r\$//' $name"
    fi
    while IFS= read -r line || [[ -n "$line" ]]; do
        number=$((number + 1))
        _env_check_encoding "$name" "$number" "$line"
        [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
        _env_check_characters "$name" "$number" "$line"
        [[ "$line" =~ $_ENV_ASSIGNMENT ]] ||
            die "$name line $number is not KEY=VALUE (KEY: a letter or _, then letters, digits or _); fix or delete that line"
        key="${BASH_REMATCH[2]}"
        [[ "$key" != export ]] ||
            die "$name line $number: a variable cannot be called export (Compose v1 and v2 read 'export =' differently); rename it"
        [[ -z "${first_line[$key]:-}" ]] ||
            die "$name lines ${first_line[$key]} and $number both set $key, and Compose would use the last one; delete the line you do not want"
        first_line[$key]="$number"
        _env_value "$name" "$number" "$key" "${BASH_REMATCH[3]}"
        # Before it is exported: an environment over the limits makes every
        # command after it fail ("Argument list too long").
        ! _env_too_long "$key" "$_ENV_VALUE" || die "$name line $number ($key) $_ENV_TOO_LONG"
        ENV_KEYS+=("$key")
        if [[ -z "${!key+set}" ]]; then
            export "$key=$_ENV_VALUE"
        fi
    done < <(tr '\000' '\001' <"$file") # bash's read would drop a NUL silently
}

# "FILE line N (KEY)" for a message about line N, or "FILE line N" when the
# line does not start with KEY=.
_env_where() {
    if [[ "$3" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*= ]]; then
        printf '%s line %s (%s)' "$1" "$2" "${BASH_REMATCH[2]}"
    else
        printf '%s line %s' "$1" "$2"
    fi
}

# Refuses, on any line, a byte-order mark and bytes that are not UTF-8:
# Compose v1 decodes the whole file as UTF-8, and v2 rejects a BOM after the
# first line.
_env_check_encoding() {
    local name="$1" number="$2" line="$3"
    if [[ "$line" == "$_ENV_BOM"* ]]; then
        die "$name line $number starts with a UTF-8 byte-order mark (BOM), which some editors add; remove it with: sed -i 's/^\xEF\xBB\xBF//' $name (or save the file as UTF-8 without BOM)"
    fi
    if [[ "$line" == *[$'\x80'-$'\xff']* ]] && ! printf '%s' "$line" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; then
        die "$(_env_where "$name" "$number" "$line") is not valid UTF-8 text, which Compose v1 cannot read; save $name as UTF-8"
    fi
}

# Refuses characters that Compose v1 and v2 trim differently around a value.
_env_check_characters() {
    local where
    if [[ "$3" =~ $_ENV_CONTROL ]]; then
        where="$(_env_where "$@")"
        die "$where holds a control character (a byte below 0x20 other than tab, or 0x7f, or NUL), which Compose v1 and v2 read differently; delete it"
    fi
    if [[ "$3" =~ $_ENV_UNICODE_SPACE ]]; then
        where="$(_env_where "$@")"
        die "$where holds a Unicode space such as a no-break space, which Compose v1 and v2 trim differently; replace it with a plain space"
    fi
}

# Sets _ENV_VALUE to the value part RAW of line NUMBER (variable KEY) as
# Compose reads it, or exits 1 naming the variable (never its value) when
# Compose v1 and v2 would not both read it that way.
_env_value() {
    local where="$1 line $2 ($3)" key="$3" raw="$4"
    # Leading blanks are not part of the value.
    raw="${raw#"${raw%%[![:space:]]*}"}"
    case "$raw" in
        \'*) _env_single_quoted "$where" "$key" "$raw" ;;
        \"*) _env_double_quoted "$where" "$key" "$raw" ;;
        *) _env_unquoted "$where" "$key" "$raw" ;;
    esac
}

_env_single_quoted() {
    local where="$1" key="$2" raw="$3" content
    [[ "$raw" =~ ^\'([^\']*)\'(.*)$ ]] ||
        die "$where: the single quote is not closed on this line (a value cannot span lines); close it"
    content="${BASH_REMATCH[1]}"
    # Compose v2 reads \' as an escaped quote (so the value would go on) and
    # keeps \\ as two backslashes; v1 turns both into one character.
    [[ "$content" != *\\ ]] ||
        die "$where: a single-quoted value cannot hold \\' or end in a backslash (Compose v2 reads \\' as an escaped quote); use double quotes for a ' (\"it's\"), or write a value that ends in a backslash unquoted"
    [[ "$content" != *\\\\* ]] ||
        die "$where: a single-quoted value cannot hold \\\\ (Compose v1 reads it as one backslash, v2 as two); use double quotes, where \\\\ stands for one backslash: $key=\"...\\\\...\""
    [[ "$content" != *"\${"* ]] ||
        die "$where: Compose v1 expands \${...} even in single quotes; change the value so that no { follows a \$"
    _env_after_quote "$where" "${BASH_REMATCH[2]}"
    _ENV_VALUE="$content"
}

_env_double_quoted() {
    local where="$1" key="$2" raw="$3" rest value="" escaped
    [[ "$raw" =~ ^\"(([^\"\\]|\\.)*)\"(.*)$ ]] ||
        die "$where: the double quote is not closed on this line (a value cannot span lines); close it"
    rest="${BASH_REMATCH[1]}"
    _env_after_quote "$where" "${BASH_REMATCH[3]}"
    # Compose v1 takes a quote after any backslash as escaped, so it would read
    # on past the closing quote, up to the next " further down the file.
    [[ "$rest" != *\\ ]] ||
        die "$where: a double-quoted value cannot end in a backslash (Compose v1 would read on past the closing quote); write the value unquoted, or move the backslash"
    [[ "$rest" != *'$'* ]] ||
        die "$where: Compose would expand the \$ in this value; use single quotes instead: $key='...'"
    while [[ "$rest" == *\\* ]]; do
        value+="${rest%%\\*}"
        rest="${rest#*\\}"
        escaped="${rest:0:1}"
        rest="${rest:1}"
        case "$escaped" in
            \\ | \") value+="$escaped" ;;
            n | r | t | a | b | f | v)
                die "$where: in double quotes Compose turns \\$escaped into $(_env_escape_name "$escaped"); write \\\\$escaped to keep the backslash and the $escaped, or use single quotes"
                ;;
            \')
                die "$where: in double quotes Compose v1 reads \\' as ' and v2 as \\'; write ' without the backslash"
                ;;
            # Both Compose versions keep any other backslash as it is.
            *) value+="\\$escaped" ;;
        esac
    done
    _ENV_VALUE="$value$rest"
}

_env_unquoted() {
    local where="$1" key="$2" raw="$3"
    # A comment starts at the first " #"; trailing blanks are not the value's.
    # (Only cut when there is one: bash takes seconds to cut nothing off a
    # value of a megabyte, which the length check then refuses.)
    [[ "$raw" != *" #"* ]] || raw="${raw%% #*}"
    raw="${raw%"${raw##*[![:space:]]}"}"
    [[ "$raw" != *$'\t#'* ]] ||
        die "$where: Compose v1 starts a comment at a tab followed by #, v2 does not; put a space before the comment's #, or quote the value"
    [[ "$raw" != *'$'* ]] ||
        die "$where: Compose would expand the \$ in this value; put it in single quotes: $key='...'"
    _ENV_VALUE="$raw"
}

# What Compose turns the escape \C (C one of n r t a b f v) into.
_env_escape_name() {
    case "$1" in
        n) printf 'a line break' ;;
        r) printf 'a carriage return' ;;
        t) printf 'a tab' ;;
        *) printf 'a control character' ;;
    esac
}

# Only blanks, or blanks and a # comment, may follow a closing quote.
_env_after_quote() {
    [[ "$2" =~ ^[[:space:]]*(#.*)?$ ]] ||
        die "$1: text follows the closing quote; move it inside the quotes, or start a comment with #"
}

# --- Checking -----------------------------------------------------------------

# The variables that the example marks as secrets (their value is the
# placeholder), in file order. Read once (validate_env reads them in the
# script's own shell): every later call, in a subshell too, takes them from
# memory.
_SECRET_NAMES=""
_SECRET_NAMES_READ=false
secret_names() {
    $_SECRET_NAMES_READ || _read_secret_names
    [[ -z "$_SECRET_NAMES" ]] || printf '%s\n' "$_SECRET_NAMES"
}

_read_secret_names() {
    _SECRET_NAMES="$(sed -n "s/^\([A-Za-z_][A-Za-z0-9_]*\)=$PLACEHOLDER\$/\1/p" "$ENV_EXAMPLE")"
    _SECRET_NAMES_READ=true
}

# Collects every problem with the loaded variables, then reports them all at
# once (so one run names everything to fix) and exits 1.
validate_env() {
    local problems=() placeholders=() name
    local -A measured=()
    $_SECRET_NAMES_READ || _read_secret_names
    while IFS= read -r name; do
        if [[ -z "${!name+set}" ]]; then
            problems+=("$name is missing from .env.infra; run ./scripts/init-env.sh to add it with a generated value")
        elif [[ -z "${!name}" ]]; then
            problems+=("$name is empty; set a value, or set it to $PLACEHOLDER and run ./scripts/init-env.sh")
        elif [[ "${!name}" == "$PLACEHOLDER" ]]; then
            placeholders+=("$name")
        fi
    done < <(secret_names)
    if ((${#placeholders[@]} > 0)); then
        problems+=("still the placeholder '$PLACEHOLDER': ${placeholders[*]}; run ./scripts/init-env.sh to generate them all at once")
    fi
    # .env.infra's own values were measured as it was read: a value too
    # long here was exported in the shell, which wins over the file.
    while IFS= read -r name; do
        [[ -n "$name" && -z "${measured[$name]:-}" ]] || continue
        measured[$name]=1
        if [[ -n "${!name+set}" ]] && _env_too_long "$name" "${!name}"; then
            problems+=("$name exported in your shell $_ENV_TOO_LONG")
        fi
    done < <(secret_names; printf '%s\n' "${ENV_KEYS[@]}")

    for name in "${BUILTIN_SERVICES[@]}"; do
        _check_port problems "$(service_field "$name" port_variable)"
    done

    _check_match problems COMPOSE_PROJECT_NAME '^[a-z0-9][a-z0-9_-]*$' \
        "must be lower-case letters, digits, - and _, starting with a letter or digit (Compose's rule; v1 would change it, v2 refuse it), e.g. transbot2"
    _check_match problems BIND_ADDRESS '^(([0-9]{1,3}\.){3}[0-9]{1,3}|\[?[0-9A-Fa-f:]+\]?)$' \
        "must be an IP address such as 127.0.0.1 (or 0.0.0.0 to expose the stack on purpose)"
    _check_match problems POSTGRES_USER '^[a-z_][a-z0-9_]{0,62}$' \
        "must be a lower-case SQL identifier (letters, digits, _), e.g. transbot_user"
    _check_match problems POSTGRES_DB '^[a-z_][a-z0-9_]{0,62}$' \
        "must be a lower-case SQL identifier (letters, digits, _), e.g. transbot"
    _check_match problems LANGFUSE_DB_PASSWORD '^[A-Za-z0-9._~-]+$' \
        "may only hold letters, digits and . _ ~ - because it sits inside Langfuse's DATABASE_URL; set it to $PLACEHOLDER and run ./scripts/init-env.sh"
    _check_match problems LANGFUSE_ENCRYPTION_KEY '^[0-9a-fA-F]{64}$' \
        "must be exactly 64 hex characters (openssl rand -hex 32)"
    _check_match problems LANGFUSE_PUBLIC_KEY '^[^:[:space:]]+$' "must not contain ':' or spaces"
    _check_match problems LANGFUSE_SECRET_KEY '^[^:[:space:]]+$' "must not contain ':' or spaces"
    _check_match problems LANGFUSE_ADMIN_EMAIL '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' \
        "must be an e-mail address, e.g. admin@transbot.local"
    _check_match problems LANGFUSE_ADMIN_PASSWORD '^.{8,}$' "must be at least 8 characters long"
    _check_match problems LANGFUSE_DISABLE_SIGNUP '^(true|false)$' "must be true or false"
    _check_match problems REDIS_APPENDFSYNC '^(everysec|always|no)$' "must be everysec, always or no"

    if ((${#problems[@]} > 0)); then
        error ".env.infra cannot be used as it is:"
        printf '  - %s\n' "${problems[@]}" >&2
        exit "$EXIT_FAILURE"
    fi
}

# Appends a problem unless the variable NAME is unset (its default applies),
# a placeholder (reported already) or matches REGEX.
_check_match() {
    local -n _problems="$1"
    local name="$2" regex="$3" why="$4"
    [[ -n "${!name+set}" && "${!name}" != "$PLACEHOLDER" ]] || return 0
    [[ "${!name}" =~ $regex ]] || _problems+=("$name $why")
}

_check_port() {
    local -n _port_problems="$1"
    local name="$2" value
    value="$(setting "$name")"
    if [[ ! "$value" =~ ^[0-9]{1,5}$ ]] || ((10#$value < 1 || 10#$value > 65535)); then
        _port_problems+=("$name must be a port number from 1 to 65535, e.g. $name=${SETTING_DEFAULTS[$name]}")
    fi
}

# Everything a command that talks to the stack needs from .env.infra:
# created on first use, read, and checked.
_ENV_READY=false
prepare_env() {
    ! $_ENV_READY || return 0
    create_env_file
    _check_env_file_mode
    load_env_file "$ENV_FILE"
    validate_env
    _warn_without_project_name
    _ENV_READY=true
}

# A .env.infra from before it carried COMPOSE_PROJECT_NAME: the scripts
# still run project "transbot", but Compose typed by hand would name its
# stack after the folder and start a second one on the same volumes/.
_warn_without_project_name() {
    local key
    for key in "${ENV_KEYS[@]}"; do
        [[ "$key" != COMPOSE_PROJECT_NAME ]] || return 0
    done
    warn ".env.infra has no COMPOSE_PROJECT_NAME, so docker compose typed by hand would start a second stack named after this folder; add it with ./scripts/init-env.sh"
}

# Loads .env.infra for commands that only read the stack (no creation).
require_env() {
    [[ -f "$ENV_FILE" ]] || die ".env.infra does not exist yet; run ./scripts/start.sh (it creates one with generated secrets)"
    _check_env_file_mode
    load_env_file "$ENV_FILE"
    validate_env
}

# .env.infra holds every password of the stack: keep it private.
_check_env_file_mode() {
    local mode
    # -L: a symlinked .env.infra is judged by the file it points to.
    mode="$(stat -L -c '%a' "$ENV_FILE" 2>/dev/null || stat -L -f '%Lp' "$ENV_FILE")"
    if [[ "$mode" != 600 && "$mode" != 400 ]]; then
        chmod 600 "$ENV_FILE"
        warn ".env.infra was readable by others (mode $mode); changed it to 0600"
    fi
}

# For commands that must work without a usable .env.infra (stop, logs): the
# compose file needs its variables to be set, so read them when they exist,
# and otherwise give Compose harmless stand-ins for the required secrets.
load_env_if_present() {
    if [[ -f "$ENV_FILE" ]]; then
        _check_env_file_mode
        load_env_file "$ENV_FILE"
    fi
    export_secret_stand_ins
}

# Gives every unset secret the placeholder, so Compose can read the compose
# file (it refuses to without them); nothing is started with these.
export_secret_stand_ins() {
    local name
    while IFS= read -r name; do
        [[ -n "${!name:-}" ]] || export "$name=$PLACEHOLDER"
    done < <(secret_names)
}

# --- Keeping secrets out of output --------------------------------------------

# Copies stdin to stdout with every secret from .env.infra replaced by ****:
# a service that logs a connection string must not leak it through us. The
# secrets reach awk through its environment, not its command line.
redact_secrets() {
    local name index=0
    # A subshell: the exported secrets end with it.
    (
        while IFS= read -r name; do
            [[ -n "${!name:-}" && "${!name}" != "$PLACEHOLDER" ]] || continue
            index=$((index + 1))
            export "REDACT_$index=${!name}"
        done < <(secret_names)
        # mawk fills its input buffer before it processes a line, which would
        # hold back `logs -f` output; -W interactive makes it line by line.
        local awk_options=()
        if awk -W version 2>/dev/null | grep -qi mawk; then
            awk_options=(-W interactive)
        fi
        REDACT_COUNT="$index" awk "${awk_options[@]}" '
            BEGIN { n = ENVIRON["REDACT_COUNT"] + 0
                    for (i = 1; i <= n; i++) secret[i] = ENVIRON["REDACT_" i] }
            {
                line = $0
                for (i = 1; i <= n; i++) {
                    out = ""
                    while ((at = index(line, secret[i])) > 0) {
                        out = out substr(line, 1, at - 1) "****"
                        line = substr(line, at + length(secret[i]))
                    }
                    line = out line
                }
                print line
                fflush()
            }'
    )
}

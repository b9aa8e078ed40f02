# shellcheck shell=bash
# .env.infra: creating it with generated secrets, reading it the way Compose
# does, and refusing values the stack cannot work with. Sourced, never run.

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
    local filled
    [[ ! -e "$ENV_FILE" ]] || return 0
    [[ -r "$ENV_EXAMPLE" ]] || die ".env.infra.example is missing; restore it with: git checkout -- .env.infra.example"
    (umask 077 && cp "$ENV_EXAMPLE" "$ENV_FILE.new")
    filled="$(fill_placeholders "$ENV_FILE.new")"
    # -n: never replace a file another process created meanwhile.
    mv -n "$ENV_FILE.new" "$ENV_FILE"
    rm -f "$ENV_FILE.new"
    step "Created .env.infra with $(grep -c . <<<"$filled") generated secrets (mode 0600, values not shown)."
}

# --- Reading ------------------------------------------------------------------

# Reads KEY=VALUE lines the way Compose reads an env file, and exports each
# variable unless the shell already exports it: a variable set in the
# environment wins over the file, as it does for Compose. Exporting the
# parsed values means Compose v1 and v2 see the very same strings, whatever
# quotes or symbols a password holds.
#
# Accepted: blank lines, `# comments`, optional `export `, KEY=value with an
# unquoted value (a ` #` starts a comment), a 'single-quoted' literal, or a
# "double-quoted" value. A `$` outside single quotes is refused: Compose
# would expand it as a variable and silently change the value.
load_env_file() {
    local file="$1" name line number=0 key value
    name="$(basename "$file")"
    if grep -q $'\r' "$file"; then
        die "$name has Windows (CRLF) line endings; convert it with: sed -i 's/\r\$//' $name"
    fi
    while IFS= read -r line || [[ -n "$line" ]]; do
        number=$((number + 1))
        [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
        if [[ ! "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=(.*)$ ]]; then
            die "$name line $number is not KEY=VALUE; fix or delete that line"
        fi
        key="${BASH_REMATCH[2]}"
        value="$(_env_value "$name" "$number" "$key" "${BASH_REMATCH[3]}")" || exit "$EXIT_FAILURE"
        ENV_KEYS+=("$key")
        if [[ -z "${!key+set}" ]]; then
            export "$key=$value"
        fi
    done <"$file"
}

# The value part of one line, unquoted; exits 1 naming the variable (never
# its value) when Compose would read it differently from what it says.
_env_value() {
    local where="$1 line $2 ($3)" key="$3" raw="$4"
    # Leading blanks are not part of the value.
    raw="${raw#"${raw%%[![:space:]]*}"}"
    case "$raw" in
        \'*)
            [[ "$raw" =~ ^\'([^\']*)\'[[:space:]]*(#.*)?$ ]] ||
                die "$where: the single quote is not closed, or text follows it"
            # Compose v2 reads \' as an escaped quote, so it would not see
            # the value end there and could not parse the file.
            [[ "${BASH_REMATCH[1]}" != *\\ ]] ||
                die "$where: a single-quoted value cannot end in a backslash (Compose reads \\' as an escaped quote); use double quotes and write the backslash twice: $key=\"...\\\\\""
            printf '%s' "${BASH_REMATCH[1]}"
            ;;
        \"*)
            [[ "$raw" =~ ^\"(([^\"\\]|\\.)*)\"[[:space:]]*(#.*)?$ ]] ||
                die "$where: the double quote is not closed, or text follows it"
            raw="${BASH_REMATCH[1]}"
            [[ "$raw" != *'$'* ]] ||
                die "$where: Compose would expand the \$ in this value; use single quotes instead: $key='...'"
            raw="${raw//\\\"/\"}"
            printf '%s' "${raw//\\\\/\\}"
            ;;
        *)
            # An unquoted value ends at " #" (a comment) and loses trailing blanks.
            raw="${raw%%[[:space:]]#*}"
            raw="${raw%"${raw##*[![:space:]]}"}"
            [[ "$raw" != *'$'* ]] ||
                die "$where: Compose would expand the \$ in this value; put it in single quotes: $key='...'"
            printf '%s' "$raw"
            ;;
    esac
}

# --- Checking -----------------------------------------------------------------

# The variables that the example marks as secrets (their value is the
# placeholder), in file order.
secret_names() {
    sed -n "s/^\([A-Za-z_][A-Za-z0-9_]*\)=$PLACEHOLDER\$/\1/p" "$ENV_EXAMPLE"
}

# Collects every problem with the loaded variables, then reports them all at
# once (so one run names everything to fix) and exits 1.
validate_env() {
    local problems=() placeholders=() name
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

    for name in "${BUILTIN_SERVICES[@]}"; do
        _check_port problems "$(service_field "$name" port_variable)" "$(service_field "$name" default_port)"
    done

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
    local name="$2" default="$3" value
    value="${!name:-$default}"
    if [[ ! "$value" =~ ^[0-9]{1,5}$ ]] || ((10#$value < 1 || 10#$value > 65535)); then
        _port_problems+=("$name must be a port number from 1 to 65535, e.g. $name=$default")
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
    _ENV_READY=true
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

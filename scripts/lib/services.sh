# shellcheck shell=bash
# What the scripts know about the built-in services: one table, the
# dispatcher to each service's own code, and the names a command line may
# give. Everything else about services (dependencies, services of override
# files, published ports) is read from the configuration as Compose
# resolves it: lib/model.sh. Sourced, never run.

# --- The built-in services ------------------------------------------------------
#
# One row per service of docker-compose.yml. Adding a built-in service means
# an entry in docker-compose.yml, a row here, and one file
# scripts/lib/services/<name>.sh with its code (see the dispatcher below).
#   data     its folder under volumes/ ("-": it keeps no data of its own)
#   mount    where that folder is mounted in its container
#   port     the variable that sets its published port (its default: lib/defaults.sh)
#   target   the port the service listens on inside its container
readonly _SERVICE_TABLE='
# name     data      mount                     port variable  target
postgres   postgres  /var/lib/postgresql/data  POSTGRES_PORT  5432
langfuse   -         -                         LANGFUSE_PORT  3000
redis      redis     /data                     REDIS_PORT     6379
'

BUILTIN_SERVICES=()
declare -A _SERVICE_FIELDS=()
_read_service_table() {
    local name data mount port_variable target
    while read -r name data mount port_variable target; do
        [[ -n "$name" && "$name" != \#* ]] || continue
        BUILTIN_SERVICES+=("$name")
        _SERVICE_FIELDS[$name.data]="${data#-}"
        _SERVICE_FIELDS[$name.mount]="${mount#-}"
        _SERVICE_FIELDS[$name.port_variable]="$port_variable"
        _SERVICE_FIELDS[$name.target]="$target"
    done <<<"$_SERVICE_TABLE"
}
_read_service_table
readonly BUILTIN_SERVICES _SERVICE_FIELDS

# Usage: service_field SERVICE data|mount|port_variable|target
# Empty for a service that is not built in, or a field it does not have.
service_field() {
    printf '%s' "${_SERVICE_FIELDS[$1.$2]:-}"
}

is_builtin() {
    [[ -n "${_SERVICE_FIELDS[$1.port_variable]:-}" ]]
}

# --- Each built-in service's own code ----------------------------------------------
#
# What is particular to one service (how a client probes it, what to tell
# the user when that fails, where to connect, how its data is backed up,
# checked and restored, its client) lives in scripts/lib/services/<name>.sh,
# as functions named <name>_<hook>. The rest of the library and the scripts
# never name them: they ask the dispatcher, so a service's code stays in
# its one file. A service without a hook has none of that behaviour (langfuse
# keeps no data: no backup hooks). The hooks in use:
#   probe CONTAINER            "ok WHAT" or "fail WHY": what health-check.sh runs
#   hint DETAIL                what to do when the probe failed with DETAIL
#                              (status 1: nothing particular to say)
#   summary HOST PORTS         where to connect, for start.sh's last lines
#   backup_files               the files it contributes to a backup, one a line
#   backup FOLDER              writes them into FOLDER (backup.sh)
#   verify BACKUP              refuses (exits 1) a damaged copy of them
#   restore BACKUP MODEL       replaces its data with them (restore.sh)
#   app_env HOST PORTS         KEY=VALUE lines for TransBot's .env (app-env.sh)
#   client ARG...              its client inside its container (psql.sh, redis-cli.sh)
#   check_start                refuses (exits 1) what would fail once started
#                              (start.sh, restart.sh)
#   log_hint LOGS              what a known line of its log means (status 1: none)
# and those only its own command asks for (postgres: require_user CONTAINER,
# apply-schema.sh; data_major, image_major IMAGE, server_major CONTAINER,
# row_counts CONTAINER, load_backup CONTAINER BACKUP, check_passwords
# CONTAINER, upgrade-postgres.sh), and those of update-images.sh:
#   server_version CONTAINER   the version the running server reports
#   image_major IMAGE          the major an image carries (else its tag's number)
#   major_path                 where a new major is upgraded to instead

# Whether SERVICE is built in and has HOOK. Only a built-in service has
# hooks: an override's service named, say, postgres_user would otherwise
# run whatever function its name and a hook spell (postgres_user_problem).
# Usage: service_has HOOK SERVICE
service_has() {
    is_builtin "$2" && declare -F "$2_$1" >/dev/null
}

# Runs HOOK of SERVICE with ARGS.
# Usage: service_hook SERVICE HOOK ARG...
service_hook() {
    local service="$1" hook="$2"
    shift 2
    service_has "$hook" "$service" || die "scripts/lib/services/$service.sh has no ${service}_$hook"
    "${service}_$hook" "$@"
}

# The built-in services that keep data in volumes/.
data_services() {
    local service
    for service in "${BUILTIN_SERVICES[@]}"; do
        [[ -z "$(service_field "$service" data)" ]] || printf '%s\n' "$service"
    done
}

# The published port of a built-in service. Its variable (else the default)
# is only what docker-compose.yml asks for: an override may publish the
# service elsewhere (`ports: !override`), and a stack started with another
# value in the shell runs on that one. So PORTS, the ports the configuration
# (model_ports) or the engine (engine_ports) says the service publishes,
# decide; the variable counts only when they have none.
# Usage: port_of SERVICE [PORTS]
port_of() {
    local found
    found="$(published_port "$1" "${2:-}")"
    printf '%s' "${found:-$(_port_setting "$1")}"
}

# The host port PORTS ("SERVICE HOST_IP PUBLISHED TARGET" lines) publish for
# SERVICE's port inside the container: the one its variable sets if that is
# among them (a plain override adds a port, Compose keeps both), else the
# lowest, whichever order the engine lists them in. Empty when PORTS
# publish none.
# Usage: published_port SERVICE PORTS
published_port() {
    awk -v service="$1" -v target="$(service_field "$1" target)" -v wanted="$(_port_setting "$1")" '
        $1 == service && $4 == target {
            if ($3 == wanted) { chosen = $3; exit }
            if (chosen == "" || $3 + 0 < chosen + 0) chosen = $3
        }
        END { print chosen }' <<<"$2"
}

# What the variable of a built-in service sets its port to, else the default.
_port_setting() {
    setting "$(service_field "$1" port_variable)"
}

# --- Names on the command line ----------------------------------------------------

# A service name as Compose allows it; anything else is refused before
# anything runs, so no argument can smuggle an option or a path to Compose.
require_service_syntax() {
    [[ "$1" =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] ||
        usage_error "unknown service '$(printable "$1")'; valid services: ${BUILTIN_SERVICES[*]} (and those of your override files)"
}

# The NAMES that are not built-in services, one a line.
non_builtin_names() {
    local name
    for name in "$@"; do
        is_builtin "$name" || printf '%s\n' "$name"
    done
}

# Exits 2 on the first of NAMES that is not among KNOWN (one name a line).
# Usage: require_known_services "$known" NAME...
require_known_services() {
    local known="$1" name
    shift
    for name in "$@"; do
        grep -qxF -- "$name" <<<"$known" ||
            usage_error "unknown service '$(printable "$name")'; valid services: $(paste -sd ' ' - <<<"$known")"
    done
}

# For scripts that manage only the built-in services' data (reset, backup,
# restore): anything else is refused, whatever Compose knows about it.
require_data_services() {
    local name
    for name in "$@"; do
        [[ -n "$(service_field "$name" data)" ]] && continue
        if is_builtin "$name"; then
            usage_error "$name keeps no data of its own in volumes/ (Langfuse's is in postgres); valid services: $(data_services | paste -sd ' ' -)"
        fi
        usage_error "'$(printable "$name")' is not a built-in service with data; valid services: $(data_services | paste -sd ' ' -) ($SCRIPT_NAME manages only the built-in data; services of your override files keep their own)"
    done
}

# Parses "[SERVICE...]" and -h/--help, for scripts with no other option, into
# the caller's array RESULT. Usage: parse_services RESULT ARG...
parse_services() {
    local -n _parsed="$1"
    shift
    _parsed=()
    while (($# > 0)); do
        case "$1" in
            -h | --help) usage; exit 0 ;;
            -*) unknown_option "$1" "-h --help" ;;
            *) require_service_syntax "$1"; _parsed+=("$1"); shift ;;
        esac
    done
}

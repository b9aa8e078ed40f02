# shellcheck shell=bash
# The configuration as Compose resolves it: the model the scripts read
# services, dependencies and ports from, the questions start.sh asks ahead,
# and what start.sh remembers of the configuration for health-check.sh.
# Loaded after lib/compose.sh, which runs Compose. Sourced, never run.

# --- The configuration as Compose resolves it -------------------------------------
#
# `compose config` merges docker-compose.yml, an override file and
# COMPOSE_FILE exactly as `up` will, so dependencies and ports are never
# assumed. The model is a few lines of text, passed around as an argument:
#   service NAME
#   depends NAME DEPENDENCY
#   port NAME HOST_IP PUBLISHED TARGET
#   image NAME IMAGE
# Compose v1 and v2 both print normalised YAML, two spaces per level; v1
# writes ports as "- IP:PUBLISHED:TARGET/tcp", v2 as mappings.
# shellcheck disable=SC2016 # awk's own $fields
_MODEL_AWK='
function flush() { if (pub != "") print "port", svc, (hip == "" ? "0.0.0.0" : hip), pub, tgt; hip = ""; pub = ""; tgt = "" }
function value(text) { sub(/^[^:]*:[[:space:]]*/, "", text); gsub(/"/, "", text); return text }
/^services:/ { in_services = 1; next }
/^[^[:space:]]/ { flush(); in_services = 0 }
!in_services { next }
/^  [^[:space:]#][^:]*:[[:space:]]*$/ {
    flush(); svc = $1; sub(/:$/, "", svc); section = ""; print "service", svc; next
}
/^    image:[[:space:]]/ { flush(); section = "image"; image = $0; sub(/^    image:[[:space:]]*/, "", image); gsub(/"/, "", image); print "image", svc, image; next }
/^    [^[:space:]-][^:]*:/ { flush(); section = $1; sub(/:.*/, "", section); next }
section == "depends_on" && /^      [^[:space:]-][^:]*:[[:space:]]*$/ {
    dep = $1; sub(/:$/, "", dep); print "depends", svc, dep; next
}
section == "depends_on" && /^ *- / { dep = $0; sub(/^ *- */, "", dep); print "depends", svc, dep; next }
section == "ports" && /^ *- / {
    flush(); item = $0; sub(/^ *- */, "", item)
    if (item !~ /^[a-z_]+:/) {
        # Short form: [IP:]PUBLISHED:TARGET[/PROTOCOL]
        sub(/\/.*/, "", item); n = split(item, part, ":")
        if (n == 3) print "port", svc, part[1], part[2], part[3]
        else if (n == 2) print "port", svc, "0.0.0.0", part[1], part[2]
        next
    }
}
section == "ports" {
    line = $0; sub(/^ *(- )?/, "", line)
    if (line ~ /^host_ip:/) hip = value(line)
    else if (line ~ /^published:/) pub = value(line)
    else if (line ~ /^target:/) tgt = value(line)
}
END { flush() }
'

# The model of the configuration, or exit 1 with Compose's own message.
# Works before .env.infra exists: the required secrets get stand-ins, and
# the ports their defaults, as the file start.sh creates would have them.
compose_model() {
    local config
    config="$(answer model "${COMPOSE[*]}" resolved_config 2> >(redact_secrets >&2))" ||
        die "docker compose config failed (see above); fix the compose files or .env.infra it names"
    awk "$_MODEL_AWK" <<<"$config"
}

# What `compose config` resolves; before .env.infra exists, with stand-ins
# for its secrets (Compose refuses to resolve without them).
resolved_config() {
    (
        [[ -f "$ENV_FILE" ]] || export_secret_stand_ins
        compose config
    )
}

# The services of MODEL, one a line. (Builtins, here and in model_ports:
# a start reads the model a dozen times, and each awk is a process.)
model_services() {
    local kind name
    while read -r kind name _; do
        [[ "$kind" != service ]] || printf '%s\n' "$name"
    done <<<"$1"
}

# The SERVICES and everything they depend on, each once, dependencies last.
# Usage: model_with_dependencies "$model" SERVICE...
model_with_dependencies() {
    local model="$1"
    shift
    _model_walk depends-on "$model" "$*"
}

# The services that depend on SERVICE, directly or not.
model_dependents() {
    _model_walk needed-by "$1" "$2" --without-roots
}

# Every service reached from ROOTS (space-separated) along the "depends"
# lines of MODEL, each once, nearest first, the roots too unless
# --without-roots: depends-on follows a service to what it depends on,
# needed-by to what depends on it.
# Usage: _model_walk depends-on|needed-by MODEL ROOTS [--without-roots]
_model_walk() {
    awk -v direction="$1" -v roots="$3" -v without_roots="${4:-}" '
        $1 == "depends" {
            if (direction == "depends-on") next_of[$2] = next_of[$2] " " $3
            else next_of[$3] = next_of[$3] " " $2
        }
        END {
            n = split(roots, queue, " ")
            for (i = 1; i <= n; i++) if (without_roots != "") root[queue[i]] = 1
            for (i = 1; i <= n; i++) {
                if (seen[queue[i]]++) continue
                if (!(queue[i] in root)) print queue[i]
                m = split(next_of[queue[i]], more, " ")
                for (j = 1; j <= m; j++) queue[++n] = more[j]
            }
        }' <<<"$2"
}

# "SERVICE HOST_IP PUBLISHED TARGET" for every published port of the
# configuration.
model_ports() {
    local kind service host published target
    while read -r kind service host published target _; do
        [[ "$kind" != port ]] || printf '%s %s %s %s\n' "$service" "$host" "$published" "$target"
    done <<<"$1"
}

# The services Compose knows, for checking names when no model is at hand.
compose_service_names() {
    (
        [[ -f "$ENV_FILE" ]] || export_secret_stand_ins
        compose config --services 2> >(redact_secrets >&2)
    ) || die "docker compose config failed (see above); fix the compose files or .env.infra it names"
}

# Exits 2 unless every NAME is a service of the configuration; asks Compose
# only when a name is not built in.
require_services_exist() {
    [[ -n "$(non_builtin_names "$@")" ]] || return 0
    require_known_services "$(compose_service_names)" "$@"
}

# --- Asking ahead: start.sh's three questions ---------------------------------
#
# Before start.sh can start anything it needs three answers: Compose's
# version, the engine's API version and the resolved configuration (~0.09,
# ~0.03 and ~0.15 s here). None depends on another, so ask_ahead sends them
# at once (lib/ahead.sh), and detect_compose, require_daemon and
# compose_model each take the answer when it is the one they would have
# asked for. The checks, and their messages, come in the same order as
# without it.

# Asks each of WHAT ahead: compose (Compose's version), engine (the
# engine's API version), model (the resolved configuration). Compose is
# asked through COMPOSE_COMMAND, else the plugin: the command detect_compose
# tries first.
# Usage: ask_ahead WHAT...
ask_ahead() {
    local what
    local -a guess=(docker compose)
    # Without docker there is nothing to ask; after detection, no need.
    command -v docker >/dev/null 2>&1 && ((${#COMPOSE[@]} == 0)) || return 0
    [[ -z "${COMPOSE_COMMAND:-}" ]] || read -r -a guess <<<"$COMPOSE_COMMAND"
    for what in "$@"; do
        case "$what" in
            compose) _ask compose-version "${guess[*]}" "${guess[@]}" version --short ;;
            engine) _ask engine-api docker docker version --format '{{.Server.APIVersion}}' ;;
            model) _ask model "${guess[*]}" _resolved_config_by "${guess[@]}" ;;
            *) die "ask_ahead: no question '$what'" ;;
        esac
    done
}

# compose config through the Compose command given, in this subshell.
# Without the fast overlay's -f (the path is not chosen yet): it changes
# healthchecks only, which the model does not read.
_resolved_config_by() {
    COMPOSE=("$@")
    resolved_config
}

# --- Services no longer in the configuration ----------------------------------------
#
# A service removed from an override file keeps its container: `up` leaves
# it alone, and only `down --remove-orphans` removes it. Compose calls such
# containers orphans.

# The services of a project_containers LISTING that are not among KNOWN (one
# name a line), each once.
# Usage: orphan_services LISTING KNOWN
orphan_services() {
    awk -v known="$2" '
        BEGIN { n = split(known, name, "\n"); for (i = 1; i <= n; i++) configured[name[i]] = 1 }
        NF >= 2 && !($2 in configured) && !seen[$2]++ { print $2 }' <<<"$1"
}

# health-check.sh judges only the services of the configuration, but must
# not ask Compose for them: that costs more than the whole check. start.sh
# and restart.sh, which resolve the configuration anyway, remember its
# services here, under a key of what they came from; once a compose file,
# COMPOSE_FILE or the project changes, the key no longer matches and the
# record is not used.
readonly SERVICES_RECORD="$REPO_ROOT/.transbot.services"

# The key: the project, the variables that choose the compose files and
# profiles, and the files' contents (one cksum, no Compose).
configuration_key() {
    local -a files
    mapfile -t files < <(compose_file_list)
    {
        printf '%s\n' "$(project_name)" "${COMPOSE_FILE:-}" "${COMPOSE_PATH_SEPARATOR:-}" "${COMPOSE_PROFILES:-}"
        (cd "$REPO_ROOT" && cat -- "${files[@]}" 2>/dev/null) || true
    } | cksum | tr ' ' -
}

# Remembers the services of MODEL (written whole, then renamed into place).
# A record that cannot be written costs health-check.sh the orphan check only.
remember_services() {
    local model="$1" tmp
    tmp="$(mktemp "$SERVICES_RECORD.XXXXXX" 2>/dev/null)" || return 0
    if { printf 'key %s\n' "$(configuration_key)" && model_services "$model" | sed 's/^/service /'; } >"$tmp" &&
        mv -f -- "$tmp" "$SERVICES_RECORD"; then
        return 0
    fi
    rm -f -- "$tmp"
}

# The services remembered, one a line; returns 1 when there is no record or
# the configuration has changed since it was written.
remembered_services() {
    [[ -r "$SERVICES_RECORD" ]] || return 1
    awk -v key="key $(configuration_key)" '
        NR == 1 { matched = ($0 == key); if (!matched) exit 1; next }
        $1 == "service" { print $2 }
        END { if (!matched) exit 1 }' "$SERVICES_RECORD"
}

# --- A healthy stack answers at once ---------------------------------------------------
#
# The most common start is on a stack that already runs, healthy, with the
# configuration it was started with: `up` would change nothing, yet asking
# Compose (its version, the configuration, `up` itself) costs over a second
# here. So after a start of the whole stack that it watched to healthy,
# start.sh records what Compose made of the configuration: each service's
# config-hash label (what `compose config --hash` computes) and image, with
# the configuration's model, under a key of everything Compose's answer
# depends on (record_key) and the engine's API version. A later start.sh
# whose key matches compares that with the project's containers in one
# `docker ps`: every service's containers carry the recorded hash and
# image, run and are healthy, and there is no other container of the
# project → nothing to start, and Compose is not asked. Any difference, or
# any doubt, takes the normal path, which records again.

readonly RUNNING_RECORD="$REPO_ROOT/.transbot.started"
_RECORD_KEY=""       # this run's key (record_key), when start.sh computed one
_RECORDED_DETAIL=""  # the containers running_as_recorded saw (project_containers_in_detail)
_RECORDED_LOOKED=false  # whether it looked at them (its listing is then current)

# The key: a digest of everything that decides what Compose makes of the
# configuration, without running Compose or asking the engine:
#   - the clone's folder and the project's name;
#   - every compose file Compose reads (COMPOSE_FILE, or docker-compose.yml
#     and its override) and the fast overlay, by content;
#   - .env.infra, and a .env beside it, by content;
#   - the environment: every variable whose name occurs in those compose
#     files (interpolation, and `environment:` entries that take the
#     shell's value) and every COMPOSE_*, DOCKER_* and TRANSBOT_* variable
#     (profiles, the files, the engine's address and context, the path);
#   - which Compose runs: COMPOSE_COMMAND, and the inode, size and time of
#     the docker and docker-compose on PATH, of every Compose plugin where
#     the docker CLI looks for one, and of the CLI's config.json (the
#     current context): an upgraded Compose may hash differently.
# The engine's API version (it picks the healthcheck path) is compared
# beside the key: it needs the engine. A compose file that reads other
# files (env_file, extends, include) has no key: their contents are not in
# it, so such a stack always takes the normal path. Fails without a key.
record_key() {
    local -a files
    mapfile -t files < <(compose_file_list)
    {
        printf 'record 1\n%s\n%s\n' "$REPO_ROOT" "$(project_name)"
        _compose_binaries
        (
            cd "$REPO_ROOT" || exit 1
            local -a extra=("$ENV_FILE")
            [[ ! -f .env ]] || extra+=(.env)
            # The secrets among the variables go through awk's environment
            # and a pipe into the digest, never onto a command line.
            awk -v compose_files="${#files[@]}" '
                FNR == 1 { file++; print "file", file, FILENAME }
                { print }
                file <= compose_files {
                    if ($0 ~ /^[[:space:]]*(env_file|extends|include)[[:space:]]*:/) uncertain = 1
                    line = $0
                    while (match(line, /[A-Za-z_][A-Za-z0-9_]*/)) {
                        named[substr(line, RSTART, RLENGTH)] = 1
                        line = substr(line, RSTART + RLENGTH)
                    }
                }
                END {
                    if (uncertain) exit 3
                    # In name order (an insertion sort: no sort process).
                    n = 0
                    for (name in ENVIRON) {
                        if (!((name in named) || name ~ /^(COMPOSE|DOCKER|TRANSBOT)_/)) continue
                        for (i = ++n; i > 1 && sorted[i - 1] > name; i--) sorted[i] = sorted[i - 1]
                        sorted[i] = name
                    }
                    for (i = 1; i <= n; i++) printf "env %s=%s\n", sorted[i], ENVIRON[sorted[i]]
                }' "${files[@]}" "$FAST_OVERLAY" "${extra[@]}" 2>/dev/null
        )
    } | _digest
}

# The binaries that decide which Compose runs, and the CLI's configuration,
# as "PATH INODE SIZE MTIME" lines.
_compose_binaries() {
    local word found config path
    # The docker CLI's own folder: DOCKER_CONFIG, else ~/.docker (not a
    # setting of the stack, so not in lib/defaults.sh).
    config="${DOCKER_CONFIG-}"
    [[ -n "$config" ]] || config="${HOME-}/.docker"
    local -a candidates=("$config/config.json" "$config/cli-plugins/docker-compose"
        /usr/local/lib/docker/cli-plugins/docker-compose /usr/local/libexec/docker/cli-plugins/docker-compose
        /usr/lib/docker/cli-plugins/docker-compose /usr/libexec/docker/cli-plugins/docker-compose
        /Applications/Docker.app/Contents/Resources/cli-plugins/docker-compose) present=()
    printf 'compose command %s\n' "${COMPOSE_COMMAND:-}"
    for word in docker docker-compose "${COMPOSE_COMMAND:+${COMPOSE_COMMAND%% *}}"; do
        [[ -n "$word" ]] && found="$(type -P -- "$word")" && candidates+=("$found")
    done
    for path in "${candidates[@]}"; do
        [[ ! -e "$path" ]] || present+=("$path")
    done
    ((${#present[@]} > 0)) || return 0
    stat -L -c '%n %i %s %Y' -- "${present[@]}" 2>/dev/null || stat -L -f '%N %i %z %m' -- "${present[@]}"
}

# SHA-256 of stdin, in hex (cksum where neither tool exists).
_digest() {
    local digest
    if command -v sha256sum >/dev/null 2>&1; then
        digest="$(sha256sum)"
    elif command -v shasum >/dev/null 2>&1; then
        digest="$(shasum -a 256)"
    else
        digest="$(cksum | tr ' ' -)"
    fi
    printf '%s' "${digest%% *}"
}

# Whether the project's containers are what the record says Compose would
# make of this configuration (key _RECORD_KEY), each running and healthy
# (or running without a healthcheck), with no other container of the
# project. It takes the answers needs' as-recorded step asked under the
# lock: the look at every container (kept for the checks before `up`) and
# the engine's API version (require_daemon takes it on the normal path);
# without them it answers no. Sets _RECORDED_DETAIL to what it saw.
running_as_recorded() {
    local line engine recorded_engine listing
    _RECORDED_DETAIL=""
    _RECORDED_LOOKED=false
    [[ -n "$_RECORD_KEY" && -r "$RUNNING_RECORD" ]] || return 1
    { IFS= read -r line && [[ "$line" == "key $_RECORD_KEY" ]] && read -r _ recorded_engine; } <"$RUNNING_RECORD" ||
        return 1
    answer_into listing engine-containers docker 2>/dev/null || return 1
    _RECORDED_DETAIL="$(project_detail_in "$listing")"
    _RECORDED_LOOKED=true
    answer_into engine engine-api docker && [[ "$engine" == "$recorded_engine" ]] || return 1
    # Every service of the record has containers, all of them with its
    # hash and image, running and healthy; no container is of another
    # service (Compose leaves those orphans: the normal path names them) or
    # a one-off.
    awk -F $'\x1f' -v record="$RUNNING_RECORD" '
        BEGIN {
            while ((getline line < record) > 0) {
                split(line, field, " ")
                if (field[1] == "container") want[field[2]] = field[3] " " field[4]
            }
        }
        NF == 0 { next }
        $7 != "False" || !($2 in want) || want[$2] != $3 " " $4 || $5 != "running" { differs = 1 }
        $6 ~ /\(/ && $6 !~ /\(healthy\)$/ { differs = 1 }
        { seen[$2] = 1 }
        END {
            for (service in want) if (!(service in seen)) differs = 1
            exit differs
        }' <<<"$_RECORDED_DETAIL"
}

# The model of the configuration as recorded.
recorded_model() {
    sed -n 's/^model //p' "$RUNNING_RECORD"
}

# When the record is this configuration's (key _RECORD_KEY), it holds
# Compose's own answers to start.sh's first questions: which Compose runs
# and its version (the key covers COMPOSE_COMMAND and the binaries), and
# the model of the configuration (the key covers everything `compose
# config` reads, recorded_model). Sets COMPOSE and COMPOSE_VERSION from it,
# so a start after stop.sh asks Compose nothing before `up`; returns 1,
# setting nothing, when the record is not this configuration's.
use_recorded_answers() {
    local line version words_line
    local -a words
    [[ -n "$_RECORD_KEY" && -r "$RUNNING_RECORD" ]] && ((${#COMPOSE[@]} == 0)) || return 1
    # Without docker the normal path says what is missing.
    command -v docker >/dev/null 2>&1 || return 1
    {
        IFS= read -r line && [[ "$line" == "key $_RECORD_KEY" ]] && IFS= read -r _ &&
            read -r line version words_line && [[ "$line" == compose && -n "$version" ]]
    } <"$RUNNING_RECORD" 2>/dev/null || return 1
    read -r -a words <<<"$words_line"
    ((${#words[@]} > 0)) || return 1
    COMPOSE=("${words[@]}")
    COMPOSE_VERSION="$version"
    readonly COMPOSE COMPOSE_VERSION
}

# The record of MODEL and what `up` made of it (DETAIL:
# project_containers_in_detail the moment it returned), after a start of
# the whole stack watched to healthy; remember_running writes it. Fails,
# printing nothing, when there is nothing to record (an older record then
# stays, under its own key): no key, Compose v1 runs (it labels no image),
# a service's containers differ from each other or from the
# configuration's image, or the files changed while the stack started (the
# key would no longer be theirs).
# Usage: running_record MODEL DETAIL
running_record() {
    local model="$1" detail="$2" containers
    [[ -n "$_RECORD_KEY" && -n "$detail" && -n "$ENGINE_API" ]] || return 1
    ! compose_is_v1 || return 1
    containers="$(awk -F $'\x1f' -v model="$model" '
        BEGIN {
            n = split(model, line, "\n")
            for (i = 1; i <= n; i++) {
                split(line[i], field, " ")
                if (field[1] == "service") wanted[field[2]] = 1
                if (field[1] == "image") image[field[2]] = field[3]
            }
        }
        NF == 0 || $7 != "False" || !($2 in wanted) { next }
        ($2 in seen) && seen[$2] != $3 " " $4 { bad = 1 }
        ($2 in image) && image[$2] != $4 { bad = 1 }
        $3 == "" { bad = 1 }
        { seen[$2] = $3 " " $4 }
        END {
            for (service in wanted) {
                if (!(service in seen)) bad = 1
                else print "container", service, seen[service]
            }
            exit bad
        }' <<<"$detail")" || return 1
    [[ "$(record_key)" == "$_RECORD_KEY" ]] || return 1
    printf 'key %s\nengine %s\ncompose %s %s\n' "$_RECORD_KEY" "$ENGINE_API" "$COMPOSE_VERSION" "${COMPOSE[*]}"
    printf 'model %s\n' "${model//$'\n'/$'\n'model }"
    printf '%s\n' "$containers"
}

# Writes RECORD (from running_record) whole, mode 0600, then renames it
# into place.
# Usage: remember_running RECORD
remember_running() {
    local tmp
    tmp="$(mktemp "$RUNNING_RECORD.XXXXXX" 2>/dev/null)" || return 0
    if printf '%s\n' "$1" >"$tmp" && mv -f -- "$tmp" "$RUNNING_RECORD"; then
        return 0
    fi
    rm -f -- "$tmp"
}

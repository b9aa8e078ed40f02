# shellcheck shell=bash
# PostgreSQL, the built-in service "postgres": everything the scripts do that
# is particular to it, as hooks the dispatcher of lib/services.sh calls by
# name (postgres_<hook>). It holds TransBot's database (POSTGRES_DB) and
# Langfuse's ("langfuse"). Sourced, never run.

# --- Health ------------------------------------------------------------------------

# An authenticated SELECT 1 on the TransBot database, as TransBot connects.
# Usage: postgres_probe CONTAINER
postgres_probe() {
    local container="$1" output
    # Over the network name, not loopback: inside the container loopback is
    # trusted without a password.
    if output="$(PGPASSWORD="${POSTGRES_PASSWORD-}" PGCONNECT_TIMEOUT=5 docker exec \
        -e PGPASSWORD -e PGCONNECT_TIMEOUT "$container" \
        psql -h postgres -U "$(setting POSTGRES_USER)" -d "$(setting POSTGRES_DB)" \
        -XtAq -c 'SELECT 1' 2>&1)" && [[ "$output" == 1 ]]; then
        printf 'ok SELECT 1 as %s on %s' "$(setting POSTGRES_USER)" "$(setting POSTGRES_DB)"
    else
        printf 'fail %s' "$(first_line_of "$output")"
    fi
}

# A password changed in .env.infra after the first start: PostgreSQL keeps
# the one it was initialised with (and the user it was initialised with).
# Usage: postgres_hint DETAIL
postgres_hint() {
    local problem
    [[ "$1" == *"password authentication failed"* ]] || return 1
    problem="$(postgres_user_problem "$(container_of postgres)")"
    if [[ -n "$problem" ]]; then
        info "  $problem" >&2
        return 0
    fi
    info "  POSTGRES_PASSWORD in .env.infra is not the password volumes/postgres was initialised with." >&2
    info "  Either put the old value back, or make the database use the new one (data is kept):" >&2
    info "    ./scripts/apply-schema.sh" >&2
}

# Usage: postgres_summary HOST PORTS
postgres_summary() {
    printf 'postgresql://%s@%s:%s/%s' "$(setting POSTGRES_USER)" "$1" "$(port_of postgres "$2")" "$(setting POSTGRES_DB)"
}

# DATABASE_URL for TransBot's .env (app-env.sh).
# Usage: postgres_app_env HOST PORTS
postgres_app_env() {
    printf 'DATABASE_URL=postgresql://%s:%s@%s:%s/%s\n' "$(urlencode "$(setting POSTGRES_USER)")" \
        "$(urlencode "$POSTGRES_PASSWORD")" "$1" "$(port_of postgres "$2")" "$(urlencode "$(setting POSTGRES_DB)")"
}

# PostgreSQL creates POSTGRES_USER only when it initialises an empty data
# folder: a name changed in .env.infra afterwards is no role of the
# database. Over the network the server answers for an unknown role exactly
# as for a wrong password (a client is not told which roles exist); over
# the container's Unix socket, which it trusts, it says "role ... does not
# exist". Prints what is wrong and the fix when POSTGRES_USER is not a role
# in CONTAINER, and nothing otherwise (or when there is no answer).
# Usage: postgres_user_problem CONTAINER
postgres_user_problem() {
    local container="$1" user output initial
    user="$(setting POSTGRES_USER)"
    [[ -n "$container" ]] || return 0
    output="$(docker exec "$container" psql -U "$user" -d template1 -XtAq -c 'SELECT 1' 2>&1)" && return 0
    [[ "$output" == *"role \"$user\" does not exist"* ]] || return 0
    initial="$(postgres_initial_user "$container")"
    printf 'POSTGRES_USER in .env.infra (%s) is not a role of volumes/postgres%s: PostgreSQL creates POSTGRES_USER only when it initialises an empty data folder; put the old value back in .env.infra%s, then ./scripts/restart.sh postgres' \
        "$user" "${initial:+, which was initialised with $initial}" "${initial:+ (POSTGRES_USER=$initial)}"
}

# The role that initialised the data folder in CONTAINER (initdb's
# superuser, OID 10), asked as a role that may exist: the langfuse role
# this repository creates, else the image's default names. Empty when none
# answers.
postgres_initial_user() {
    local name
    name="$(docker exec "$1" sh -c 'for role in langfuse postgres transbot_user; do
            psql -U "$role" -d template1 -XtAq -c "SELECT rolname FROM pg_roles WHERE oid = 10" 2>/dev/null && exit 0
        done
        exit 1' 2>/dev/null)" || return 0
    printable "$name"
}

# Exits 1, saying why and what to do, when POSTGRES_USER is not a role of
# the database in CONTAINER (see postgres_user_problem).
# Usage: postgres_require_user CONTAINER
postgres_require_user() {
    local problem
    problem="$(postgres_user_problem "$1")"
    [[ -z "$problem" ]] || die "$problem"
}

# --- Backups ---------------------------------------------------------------------
# Two pg_dump archives (custom format; restorable by hand too:
# pg_restore -d DB FILE): postgres-transbot.dump of POSTGRES_DB, and
# postgres-langfuse.dump of Langfuse's database.

# "DATABASE FILE" for each database a backup holds.
postgres_dumps() {
    printf '%s %s\n' "$(setting POSTGRES_DB)" postgres-transbot.dump langfuse postgres-langfuse.dump
}

postgres_backup_files() {
    printf '%s\n' postgres-transbot.dump postgres-langfuse.dump
}

# pg_dump takes one snapshot per database, so each archive is consistent
# while TransBot keeps writing.
# Usage: postgres_backup FOLDER
postgres_backup() {
    local folder="$1" container database file
    container="$(running_container_of postgres)"
    while read -r database file; do
        docker exec "$container" pg_dump --format=custom \
            --username "$(setting POSTGRES_USER)" --dbname "$database" \
            >"$folder/$file" || die "pg_dump of the $database database failed"
    done < <(postgres_dumps)
}

# Usage: postgres_verify BACKUP
postgres_verify() {
    local backup="$1" container database file
    container="$(running_container_of postgres)"
    while read -r database file; do
        docker exec -i "$container" pg_restore --list <"$backup/$file" >/dev/null 2>&1 ||
            die "$file is not a readable pg_dump archive; nothing was restored"
    done < <(postgres_dumps)
}

# Each database in one transaction: a failure leaves it untouched. The
# services that use the database (Langfuse) must not write meanwhile: they
# are stopped, and started again whatever happens.
# Usage: postgres_restore BACKUP MODEL
postgres_restore() {
    local backup="$1" model="$2" container database file
    local -a dependents
    container="$(running_container_of postgres)"
    mapfile -t dependents < <(model_dependents "$model" postgres)
    if ((${#dependents[@]} > 0)); then
        compose_or_die "docker compose stop failed (see above); nothing was restored" stop "${dependents[@]}"
    fi
    while read -r database file; do
        step "Restoring the $database database..."
        if ! postgres_pg_restore "$container" "$database" "$backup/$file"; then
            ((${#dependents[@]} == 0)) || compose_up "${dependents[@]}" -- "${dependents[@]}" || true
            die "restoring $file failed (see above); the $database database was left as it was"
        fi
    done < <(postgres_dumps)
    ((${#dependents[@]} == 0)) || compose_up "${dependents[@]}" -- "${dependents[@]}" ||
        die "docker compose up failed (see above); start them with ./scripts/start.sh ${dependents[*]}"
}

# Replaces DATABASE in CONTAINER with ARCHIVE in one transaction: a failure
# leaves it untouched. --clean replaces what is there (on a new server, what
# the init files created).
# Usage: postgres_pg_restore CONTAINER DATABASE ARCHIVE
postgres_pg_restore() {
    docker exec -i "$1" pg_restore --clean --if-exists --single-transaction --exit-on-error \
        --username "$(setting POSTGRES_USER)" --dbname "$2" <"$3"
}

# --- Client ------------------------------------------------------------------------

# psql as POSTGRES_USER on POSTGRES_DB over the container's Unix socket,
# which the image trusts: no password typed. Replaces this process.
# Usage: postgres_client PSQL_ARG...
postgres_client() {
    exec_in_service postgres -- \
        psql --username "$(setting POSTGRES_USER)" --dbname "$(setting POSTGRES_DB)" "$@"
}

# --- Major versions ----------------------------------------------------------------
# A data folder opens only with the major that initialised it: PostgreSQL
# refuses it otherwise, and a stack crash-looping on it tempts the user into
# reset.sh. So the two majors are compared before anything starts.

# The major that initialised volumes/postgres (its PG_VERSION file); empty
# when it has none yet (a first start initialises it) or this user cannot
# read it (the server's uid keeps it 0700; the server then says it itself,
# and postgres_log_hint explains).
postgres_data_major() {
    local file="$REPO_ROOT/volumes/postgres/PG_VERSION" major=""
    if [[ -r "$file" ]]; then
        read -r major <"$file" 2>/dev/null || true
    elif [[ -n "${1:-}" && -d "${file%/*}" && ! -r "${file%/*}" ]]; then
        major="$(postgres_pg_version_through_docker "$1")"
    fi
    [[ ! "$major" =~ ^[0-9]+$ ]] || printf '%s' "$major"
}

# PG_VERSION of a data folder this user may not read (mode 0700, owned by
# the server's uid on Linux): through the running server's container, else
# a throw-away container of IMAGE (present here) that mounts it read-only.
postgres_pg_version_through_docker() {
    local container mount
    mount="$(service_field postgres mount)"
    container="$(container_of postgres)"
    if [[ -n "$container" && "$(container_status "$container")" == running* ]]; then
        docker exec "$container" cat "$mount/PG_VERSION" 2>/dev/null && return 0
    fi
    docker run --rm --network none --user 0 --entrypoint cat \
        -v "$REPO_ROOT/volumes/postgres:/pgdata:ro" -- "$1" /pgdata/PG_VERSION 2>/dev/null || true
}

# The major of IMAGE, from PG_MAJOR in its environment (the official images
# and the stand-ins set it); empty when the image is not here (nothing to
# compare before Compose pulls it) or is no PostgreSQL image.
# Usage: postgres_image_major IMAGE
postgres_image_major() {
    local environment
    environment="$(answer image-env "$1" postgres_image_environment "$1" 2>/dev/null)" || return 0
    awk -F= '$1 == "PG_MAJOR" && $2 ~ /^[0-9]+$/ && !found { print $2; found = 1 }' <<<"$environment"
}

postgres_image_environment() {
    docker image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' -- "$1"
}

# What postgres_check_start will ask the engine, asked ahead (start.sh).
postgres_ask_start() {
    local image
    image="$(setting POSTGRES_IMAGE)"
    _ask image-env "$image" postgres_image_environment "$image"
}

# Refuses (exit 1) to start POSTGRES_IMAGE on a data folder of another major,
# before anything is started or changed.
postgres_check_start() {
    local image data_major image_major
    image="$(setting POSTGRES_IMAGE)"
    image_major="$(postgres_image_major "$image")"
    [[ -n "$image_major" ]] || return 0
    data_major="$(postgres_data_major "$image")"
    [[ -n "$data_major" && "$image_major" != "$data_major" ]] || return 0
    die "$(postgres_drift_message "$data_major" "$image" "$image_major")"
}

# Usage: postgres_drift_message DATA_MAJOR IMAGE IMAGE_MAJOR
postgres_drift_message() {
    local data_major="$1" image="$2" image_major="$3"
    if ((image_major > data_major)); then
        printf 'volumes/postgres holds PostgreSQL %s data, but POSTGRES_IMAGE in .env.infra (%s) is PostgreSQL %s; nothing was started. Upgrade the data instead: set POSTGRES_IMAGE back to a PostgreSQL %s image (e.g. postgres:%s-alpine), then run ./scripts/upgrade-postgres.sh %s' \
            "$data_major" "$(printable "$image")" "$image_major" "$data_major" "$data_major" "$(printable "$image")"
    else
        printf 'volumes/postgres holds PostgreSQL %s data, which PostgreSQL %s (POSTGRES_IMAGE in .env.infra: %s) cannot open; nothing was started. Set POSTGRES_IMAGE to a PostgreSQL %s image (e.g. postgres:%s-alpine), or go back with ./scripts/upgrade-postgres.sh --revert' \
            "$data_major" "$image_major" "$(printable "$image")" "$data_major" "$data_major"
    fi
}

# The server's own refusal, when the image was not here to compare before
# the start (Compose pulled it) or the data folder was not readable.
# Usage: postgres_log_hint LOGS
postgres_log_hint() {
    [[ "$1" == *"database files are incompatible with server"* ]] || return 1
    printf 'volumes/postgres was initialised by another PostgreSQL major than POSTGRES_IMAGE in .env.infra: put back the image it was made with, then upgrade with ./scripts/upgrade-postgres.sh IMAGE (see the README, "Upgrading")\n'
}

# --- Major upgrades (upgrade-postgres.sh) -----------------------------------------

# The major of the server running in CONTAINER, as it says itself: the
# image that runs may be set elsewhere than POSTGRES_IMAGE (an override).
# Usage: postgres_server_major CONTAINER
postgres_server_major() {
    local number
    number="$(docker exec "$1" psql -U "$(setting POSTGRES_USER)" -d "$(setting POSTGRES_DB)" -XtAq \
        -c 'SHOW server_version_num' 2>/dev/null)" || return 0
    [[ ! "$number" =~ ^[0-9]+$ ]] || printf '%s' "$((number / 10000))"
}

# "DATABASE SCHEMA.TABLE ROWS" for every table of both databases, exact
# (count(*), not the planner's estimate): what an upgrade must carry over.
# Usage: postgres_row_counts CONTAINER
postgres_row_counts() {
    local container="$1" database file
    while read -r database file; do
        docker exec "$container" psql -U "$(setting POSTGRES_USER)" -d "$database" -XtAq -F ' ' -c "
            SELECT '$database', format('%I.%I', table_schema, table_name),
                   (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I',
                       table_schema, table_name), false, true, '')))[1]::text
            FROM information_schema.tables
            WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
            ORDER BY 2" || die "could not count the rows of the $database database"
    done < <(postgres_dumps)
}

# Loads a backup's archives into the freshly initialised server in
# CONTAINER, each database in one transaction; --clean replaces what the
# init files created (the TransBot schema).
# Usage: postgres_load_backup CONTAINER BACKUP
postgres_load_backup() {
    local container="$1" backup="$2" database file
    while read -r database file; do
        step "Restoring the $database database..."
        postgres_pg_restore "$container" "$database" "$backup/$file" ||
            die "restoring $file into the new server failed (see above)"
    done < <(postgres_dumps)
}

# Each password of .env.infra opens its database over the network, as the
# clients connect (loopback inside the container is trusted).
# Usage: postgres_check_passwords CONTAINER
postgres_check_passwords() {
    local container="$1"
    PGPASSWORD="$POSTGRES_PASSWORD" docker exec -e PGPASSWORD "$container" psql -h postgres \
        -U "$(setting POSTGRES_USER)" -d "$(setting POSTGRES_DB)" -XtAq -c 'SELECT 1' >/dev/null ||
        die "POSTGRES_PASSWORD does not open the $(setting POSTGRES_DB) database on the new server"
    PGPASSWORD="$LANGFUSE_DB_PASSWORD" docker exec -e PGPASSWORD "$container" psql -h postgres \
        -U langfuse -d langfuse -XtAq -c 'SELECT 1' >/dev/null ||
        die "LANGFUSE_DB_PASSWORD does not open the langfuse database on the new server"
}

# --- Image updates (update-images.sh) -------------------------------------------

# The version the server in CONTAINER reports (SHOW server_version), e.g.
# 15.8 (its first word: Debian builds add their package's version).
# Usage: postgres_server_version CONTAINER
postgres_server_version() {
    docker exec "$1" psql -U "$(setting POSTGRES_USER)" -d "$(setting POSTGRES_DB)" -XtAq \
        -c 'SHOW server_version' 2>/dev/null | awk 'NR == 1 { print $1 }' || true
}

# A new major is a dump and restore of the data, not an image update.
postgres_major_path() {
    printf 'Upgrade the data with ./scripts/upgrade-postgres.sh IMAGE (e.g. postgres:17-alpine); keep a major in POSTGRES_IMAGE (postgres:15-alpine).'
}

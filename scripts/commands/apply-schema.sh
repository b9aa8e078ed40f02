# shellcheck shell=bash
# Brings an existing PostgreSQL volume up to date with this repository,
# keeping every row: what initialisation does on an empty volume.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME

PostgreSQL runs services/postgres/ only when volumes/postgres is empty. This
applies the same steps to the running database without deleting anything:
  - the TransBot schema (services/postgres/init.sql, idempotent)
  - the "langfuse" role and database (services/postgres/langfuse-database.sh)
  - the passwords of POSTGRES_USER and "langfuse" from .env.infra, so a
    password changed in .env.infra after the first start takes effect
Run it after pulling schema changes, or when start.sh reports a password
mismatch. Running it twice changes nothing.

Options:
  -h, --help   show this help

Exit status: 0 applied, 1 failed, 2 usage error.
EOF
}

# Runs SQL from stdin as POSTGRES_USER over the container's Unix socket,
# which the image trusts: this works even when the password is out of date.
psql_in_container() {
    docker exec -i -e TRANSBOT_NEW_PASSWORD "$1" \
        psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
        --username "$(setting POSTGRES_USER)" --dbname "$(setting POSTGRES_DB)"
}

main() {
    local container
    parse_no_arguments "$@"
    needs env engine lock own-stack
    container="$(running_container_of postgres)"
    # Every step runs as POSTGRES_USER: a name changed after initialisation
    # gets its own message here, not psql's "role does not exist" three times.
    service_hook postgres require_user "$container"

    step "Applying the TransBot schema (services/postgres/init.sql)..."
    psql_in_container "$container" <"$REPO_ROOT/services/postgres/init.sql" ||
        die "services/postgres/init.sql failed in the database (see above); fix what psql names, then run ./scripts/apply-schema.sh again"

    step "Ensuring the langfuse role and database, with LANGFUSE_DB_PASSWORD..."
    docker exec -i -e LANGFUSE_DB_PASSWORD -e POSTGRES_USER -e POSTGRES_DB "$container" sh -s \
        <"$REPO_ROOT/services/postgres/langfuse-database.sh" >/dev/null ||
        die "services/postgres/langfuse-database.sh failed in the database (see above); fix what it names, then run ./scripts/apply-schema.sh again"

    step "Setting $(setting POSTGRES_USER)'s password to POSTGRES_PASSWORD..."
    TRANSBOT_NEW_PASSWORD="$POSTGRES_PASSWORD" psql_in_container "$container" <<'EOSQL' ||
\getenv pw TRANSBOT_NEW_PASSWORD
SELECT format('ALTER ROLE %I PASSWORD %L', current_user, :'pw')
\gexec
EOSQL
        die "setting $(setting POSTGRES_USER)'s password failed (see above); fix what psql names, then run ./scripts/apply-schema.sh again"
    ok "PostgreSQL matches this repository and .env.infra; no data was deleted"
}

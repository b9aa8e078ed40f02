#!/bin/sh
# Creates the "langfuse" role and the "langfuse" database it owns.
#
# Langfuse gets a database of its own because its Prisma migrations refuse a
# schema that already holds tables (P3005), and since PostgreSQL 15 only a
# database's owner may create tables in its public schema.
#
# The official image runs this at initialisation (sourced or executed, in
# name order, before the TransBot schema). ./scripts/apply-schema.sh runs it
# again on an existing volume: it is idempotent, and it sets the role's
# password to LANGFUSE_DB_PASSWORD each time.
#
# POSIX sh, and no `set` options: if the image sources this file instead of
# running it, options would leak into its entrypoint.

if [ -z "${LANGFUSE_DB_PASSWORD:-}" ]; then
    echo "langfuse-database.sh: LANGFUSE_DB_PASSWORD is empty" >&2
    exit 1
fi

# psql reads the password from the environment (\getenv) and quotes it
# itself (%L), so no character in it can break or inject SQL, and it never
# appears on a command line, where `ps` would show it.
psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" <<'EOSQL'
\getenv pw LANGFUSE_DB_PASSWORD
SELECT format('CREATE ROLE langfuse LOGIN PASSWORD %L', :'pw')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'langfuse')
\gexec
SELECT format('ALTER ROLE langfuse LOGIN PASSWORD %L', :'pw')
\gexec
SELECT 'CREATE DATABASE langfuse OWNER langfuse'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'langfuse')
\gexec
EOSQL

# shellcheck shell=bash
# Opens psql on the TransBot database inside the postgres container.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [PSQL ARGUMENTS...]

Opens psql as POSTGRES_USER on POSTGRES_DB (the TransBot database) inside
the running postgres container. Every argument goes to psql, e.g.
  $SCRIPT_NAME -c 'SELECT count(*) FROM transbot.translations'
  $SCRIPT_NAME -d langfuse
  $SCRIPT_NAME < query.sql
No password is typed or shown: inside its container psql connects over the
Unix socket, which the image trusts.

Options:
  -h, --help   show this help (use -- --help for psql's own help)

Exit status: psql's, or 1 when postgres is not running.
EOF
}

main() {
    open_client postgres "$@"
}

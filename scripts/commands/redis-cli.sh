# shellcheck shell=bash
# Opens redis-cli, authenticated, inside the redis container.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [REDIS-CLI ARGUMENTS...]

Opens redis-cli inside the running redis container, authenticated with
REDIS_PASSWORD from .env.infra. Every argument goes to redis-cli, e.g.
  $SCRIPT_NAME ping
  $SCRIPT_NAME --scan --pattern 'session:*'
The password travels in the REDISCLI_AUTH environment variable: it is not
on any command line, and redis-cli prints no warning about it.

Options:
  -h, --help   show this help

Exit status: redis-cli's, or 1 when redis is not running.
EOF
}

main() {
    open_client redis "$@"
}

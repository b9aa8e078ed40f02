# shellcheck shell=bash
# Starts the stack (or the named services) and waits until it is healthy.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...] [--no-wait] [--timeout SECONDS]

Starts the named services with what they depend on, or the whole stack
(${BUILTIN_SERVICES[*]}, and the services of your override files), then
waits until each is healthy. On a first run it creates .env.infra with
generated secrets.

Before starting it checks Docker, Compose, .env.infra and that every
published port is free. Running it again on a healthy stack is harmless:
when nothing changed that would make Compose recreate a container, it
only probes the services and answers, without running Compose.

Options:
  --no-wait            start and return without waiting for health
                       (Compose's own start is still bounded by --timeout)
  --timeout SECONDS    how long to wait for health, Compose's own wait for
                       a healthy dependency included (default: 300,
                       enough for Langfuse's first-start migrations)
  -h, --help           show this help

Environment: variables exported in your shell override .env.infra, e.g.
  POSTGRES_PORT=5433 $SCRIPT_NAME
COMPOSE_PROJECT_NAME (in .env.infra; default: transbot), COMPOSE_FILE and
a docker-compose.override.yml work as they do for Compose. It refuses to
start a server on a data folder that another container has mounted.
TRANSBOT_FAST_PATH=off keeps the healthchecks of docker-compose.yml alone
on engines that could probe faster (see the README).

Exit status: 0 healthy, 1 failed (details printed), 2 usage error,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
EOF
}

main() {
    bring_up start "$@"
}

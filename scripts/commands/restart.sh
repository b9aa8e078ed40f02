# shellcheck shell=bash
# Restarts the stack (or the named services) and waits until it is healthy.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME [SERVICE...] [--no-wait] [--timeout SECONDS]

Stops and starts the named services, or the whole stack
(${BUILTIN_SERVICES[*]}, and the services of your override files), then
waits until each is healthy. A container whose settings changed in
.env.infra or the compose files is recreated with the new ones. Data in
./volumes is kept.

Everything start.sh checks (Docker, .env.infra, free ports, one port per
service) is checked before anything is stopped.

Options:
  --no-wait            return without waiting for health
  --timeout SECONDS    how long to wait for health, Compose's own wait for
                       a healthy dependency included (default: 300)
  -h, --help           show this help

Exit status: 0 restarted and healthy, 1 failed (details printed), 2 usage error,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
EOF
}

main() {
    bring_up restart "$@"
}

#!/bin/sh
# Starts redis-server with the password from REDISCLI_AUTH, without ever
# putting it on a command line.
#
# `--requirepass PASSWORD` would show the password in `docker ps --no-trunc`,
# `docker inspect` and the host's process list. Instead the password's
# SHA-256 goes to redis-server as a config line on stdin ("-" as the last
# argument). Hashing also means no character of the password can break the
# config syntax: spaces, quotes, "$", "#" and non-ASCII all reach Redis as
# the exact bytes a client will send with AUTH.
#
# Usage (the compose file's command): redis-server.sh [redis-server option...]
#
# In a swarm (deploy/swarm/stack.yml) the password is a Docker secret, not
# an environment variable: REDIS_PASSWORD_FILE names the file that holds it.
set -eu

if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
    REDISCLI_AUTH="$(cat "$REDIS_PASSWORD_FILE")"
fi
: "${REDISCLI_AUTH:?REDISCLI_AUTH (or REDIS_PASSWORD_FILE) must hold the Redis password}"

# printf is a shell builtin: the password is not in any process's arguments.
hash="$(printf '%s' "$REDISCLI_AUTH" | sha256sum | cut -d ' ' -f 1)"

# The image's entrypoint prepares /data and drops to the redis user; "reset"
# removes the default user's "nopass" before the one password is added.
# backup.sh takes its snapshot the way a replica does (redis-cli --rdb);
# nothing else replicates here, so the 5 s Redis waits for more replicas
# to join that sync is only a delay.
exec docker-entrypoint.sh redis-server "$@" - <<CONFIG
user default reset on #$hash ~* &* +@all
repl-diskless-sync-delay 0
CONFIG

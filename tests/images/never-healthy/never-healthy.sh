#!/usr/bin/env bash
# Entrypoint of the never-healthy test image: says what it is, touches no
# data, never starts the server, and stops at once on SIGTERM or SIGINT
# (so `docker stop` and a rollback do not wait for the kill timeout).
set -Eeuo pipefail

# Only the command's first word: its options might hold a password.
printf 'transbot never-healthy TEST image: not starting %s; its healthcheck will never pass\n' "${1:-the server}" >&2
trap 'exit 0' TERM INT
while true; do
	sleep 3600 &
	wait $! || true
done

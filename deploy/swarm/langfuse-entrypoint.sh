#!/bin/sh
# Entrypoint of Langfuse v2 in the swarm stack (mounted as a config).
#
# Langfuse v2 reads its settings from environment variables only (no
# *_FILE), while a swarm hands passwords to a task as files under
# /run/secrets. Putting them in the service's environment would show them in
# `docker service inspect` and `docker inspect`. So each secret file is
# named after the variable it fills (target: NEXTAUTH_SECRET, ...): this
# script reads them into its own environment and then runs the image's own
# entrypoint and command (`dumb-init -- ./web/entrypoint.sh` with the CMD the
# stack passes as arguments), which see ordinary variables.
#
# DATABASE_URL is built here from DATABASE_USERNAME/HOST/PORT/NAME and the
# DATABASE_PASSWORD secret, the password percent-encoded byte by byte: the
# image's own entrypoint would paste it into the URL as it is, and a
# password with "@", "/" or "%" would then break the URL.
#
# POSIX sh: the real image's shell is busybox ash. printf is a builtin, so
# no secret ever is an argument of a process.
set -eu

readonly SECRETS=/run/secrets

read_secrets() {
	for file in "$SECRETS"/*; do
		[ -f "$file" ] || continue
		name=${file##*/}
		case $name in
		[!A-Za-z_]* | *[!A-Za-z0-9_]*)
			echo "langfuse-entrypoint: $file is not named like an environment variable; give the secret such a target" >&2
			exit 1
			;;
		esac
		value=$(cat "$file")
		export "$name=$value"
	done
}

# Every byte as %XX: valid in a URL's user info whatever the password holds.
percent_encode() {
	printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n' | sed 's/../%&/g'
}

build_database_url() {
	if [ -n "${DATABASE_URL:-}" ] || [ -z "${DATABASE_PASSWORD:-}" ]; then
		return 0
	fi
	encoded=$(percent_encode "$DATABASE_PASSWORD")
	DATABASE_URL="postgresql://${DATABASE_USERNAME:?DATABASE_USERNAME is not set}:${encoded}@${DATABASE_HOST:?DATABASE_HOST is not set}:${DATABASE_PORT:-5432}/${DATABASE_NAME:?DATABASE_NAME is not set}"
	export DATABASE_URL
	unset DATABASE_PASSWORD encoded
}

read_secrets
build_database_url
unset value
exec dumb-init -- ./web/entrypoint.sh "$@"

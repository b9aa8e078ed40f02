#!/bin/sh
# Entrypoint of the transbot langfuse:2 stand-in. Same shape as the real
# image's web entrypoint: run the database migrations (unless disabled), stop
# if they fail, then exec the server command (CMD).
set -eu

run_migrations() {
	if [ "${LANGFUSE_AUTO_POSTGRES_MIGRATION_DISABLED:-}" = true ]; then
		return 0
	fi
	status=0
	python3 -m standin migrate || status=$?
	if [ "$status" -eq 3 ]; then
		# invalid environment: the variables were already named on stderr
		exit 1
	fi
	if [ "$status" -ne 0 ]; then
		echo "Applying database migrations failed. This is mostly caused by the database being unavailable." >&2
		echo "Exiting..." >&2
		exit "$status"
	fi
}

_main() {
	run_migrations
	exec "$@"
}

_main "$@"

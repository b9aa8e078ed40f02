#!/bin/sh
# Creates Langfuse's role and database at initialisation, in the swarm stack.
#
# Mounted as a config into /docker-entrypoint-initdb.d, which the postgres
# image sources (it is not executable) once, on an empty data directory. It
# runs the local stack's own services/postgres/langfuse-database.sh (mounted
# next to it) with LANGFUSE_DB_PASSWORD read from its Docker secret instead
# of the container's environment. The subshell keeps the password out of the
# environment of the server the image's entrypoint starts afterwards; a
# failure in it stops the initialisation (the entrypoint runs with set -e).
(
	LANGFUSE_DB_PASSWORD="$(cat /run/secrets/langfuse_db_password)"
	export LANGFUSE_DB_PASSWORD
	# shellcheck source=services/postgres/langfuse-database.sh
	. /usr/local/share/transbot/langfuse-database.sh
)

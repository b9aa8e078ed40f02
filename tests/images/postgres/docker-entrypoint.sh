#!/usr/bin/env bash
# Entrypoint of the transbot postgres stand-ins (15 and 17).
#
# It re-implements the start-up contract of the official postgres:15-alpine
# and postgres:17-alpine images (see tests/images/README.md; their entrypoints
# are one template upstream too): the same environment variables, the same
# one-time initialisation of an empty PGDATA, the same init-script rules, and
# `exec postgres` at the end so that postgres is PID 1 and receives the
# STOPSIGNAL (SIGINT = fast shutdown) itself.
set -Eeo pipefail

readonly INITDB_DIR=/docker-entrypoint-initdb.d
readonly SOCKET_DIR=/var/run/postgresql

log() { printf '%s\n' "$*"; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# VAR or VAR_FILE (a Docker secret) may hold a setting, never both: with both
# set we could not tell which one the operator meant.
file_env() {
	local var="$1" default="${2:-}"
	local file_var="${var}_FILE"
	local val="$default"
	if [[ -n "${!var:-}" && -n "${!file_var:-}" ]]; then
		die "both $var and $file_var are set (but are exclusive)"
	fi
	if [[ -n "${!var:-}" ]]; then
		val="${!var}"
	elif [[ -n "${!file_var:-}" ]]; then
		val="$(<"${!file_var}")"
	fi
	export "$var"="$val"
	unset "$file_var"
}

# Informational invocations (postgres --version, -C setting, ...) must not
# trigger an initialisation of the data directory.
wants_help() {
	local arg
	for arg; do
		case "$arg" in
		-'?' | --help | --describe-config | -V | --version | -C) return 0 ;;
		esac
	done
	return 1
}

# Read the settings once; DATABASE_ALREADY_EXISTS decides whether we init.
setup_env() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	DATABASE_ALREADY_EXISTS=
	if [[ -s "$PGDATA/PG_VERSION" ]]; then
		DATABASE_ALREADY_EXISTS=true
	fi
}

# Runs as root and as postgres: root fixes ownership, postgres (e.g. started
# with --user 70) can at least create what is missing below writable parents.
create_dirs() {
	local user
	user="$(id -u)"
	mkdir -p "$PGDATA"
	# initdb refuses a group/world readable data directory.
	chmod 00700 "$PGDATA" || :
	mkdir -p "$SOCKET_DIR"
	chmod 03775 "$SOCKET_DIR" || :
	if [[ -n "${POSTGRES_INITDB_WALDIR:-}" ]]; then
		mkdir -p "$POSTGRES_INITDB_WALDIR"
		if [[ "$user" == 0 ]]; then
			find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres '{}' +
		fi
		chmod 700 "$POSTGRES_INITDB_WALDIR"
	fi
	if [[ "$user" == 0 ]]; then
		find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
		find "$SOCKET_DIR" \! -user postgres -exec chown postgres '{}' +
	fi
}

# Without a password nobody could log in over TCP (scram-sha-256), so the
# official image refuses to initialise; trust is the explicit opt-out.
verify_minimum_env() {
	if [[ -z "$POSTGRES_PASSWORD" && "$POSTGRES_HOST_AUTH_METHOD" != trust ]]; then
		cat >&2 <<-'EOE'
			error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOE
		exit 1
	fi
	if [[ "$POSTGRES_HOST_AUTH_METHOD" == trust ]]; then
		log 'WARNING: POSTGRES_HOST_AUTH_METHOD=trust: every connection is accepted without a password.'
	fi
}

# initdb with the bootstrap superuser. The password goes through a pipe
# (--pwfile on a process substitution) so it is never on a command line or in
# a file, and never printed.
init_database_dir() {
	local -a extra_args=()
	if [[ -n "$POSTGRES_INITDB_ARGS" ]]; then
		# Word-split like the official image; -f: no pathname expansion.
		set -f
		read -r -a extra_args <<<"$POSTGRES_INITDB_ARGS"
		set +f
	fi
	if [[ -n "${POSTGRES_INITDB_WALDIR:-}" ]]; then
		extra_args=(--waldir "$POSTGRES_INITDB_WALDIR" "${extra_args[@]}")
	fi
	if [[ -n "$POSTGRES_PASSWORD" ]]; then
		initdb --username="$POSTGRES_USER" \
			--pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
			"${extra_args[@]}"
	else
		initdb --username="$POSTGRES_USER" "${extra_args[@]}"
	fi
}

# initdb's default pg_hba.conf trusts the socket and loopback (which only
# processes inside the container can use); everything else must authenticate.
setup_hba_conf() {
	local method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	{
		printf '\n'
		if [[ "$method" == trust ]]; then
			printf '# warning trust is enabled for all connections\n'
		fi
		printf 'host all all all %s\n' "$method"
	} >>"$PGDATA/pg_hba.conf"
}

# The image's postgresql.conf.sample already says listen_addresses = '*';
# make sure the initialised cluster really does, whatever initdb copied.
ensure_listen_all() {
	if ! grep -qE "^listen_addresses[[:space:]]*=[[:space:]]*'\*'" "$PGDATA/postgresql.conf"; then
		printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	fi
}

# Temporary server for the init scripts: Unix socket only, so nothing outside
# the container (and no TCP health check) sees a half-initialised database.
temp_server_start() {
	PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" \
		-o "-c listen_addresses='' -p ${PGPORT:-5432}" \
		-w start
}

temp_server_stop() {
	PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
}

# psql as the official image runs it for init files: over the socket, as the
# bootstrap superuser, in POSTGRES_DB unless the caller passes --dbname, stop
# at the first error, no ~/.psqlrc surprises.
process_sql() {
	local -a query_runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
	if [[ -n "$POSTGRES_DB" ]]; then
		query_runner+=(--dbname "$POSTGRES_DB")
	fi
	PGHOST='' PGHOSTADDR='' "${query_runner[@]}" "$@"
}

# Sourced init scripts written for the official image may call its helper
# by name; keep that name working.
docker_process_sql() { process_sql "$@"; }

setup_db() {
	local exists
	exists="$(process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db' ;
	EOSQL
	)"
	if [[ -z "${exists//[[:space:]]/}" ]]; then
		process_sql --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
		log
	fi
}

# Every top-level file of the init directory, in name order. Any failure
# aborts the entrypoint (set -e) and with it the container, non-zero.
process_init_files() {
	local f
	local -a files=()
	shopt -s nullglob
	files=("$INITDB_DIR"/*)
	shopt -u nullglob
	log
	for f in "${files[@]}"; do
		case "$f" in
		*.sh)
			if [[ -x "$f" ]]; then
				log "$0: running $f"
				"$f"
			else
				log "$0: sourcing $f"
				# shellcheck disable=SC1090 # user-provided init script
				. "$f"
			fi
			;;
		*.sql)
			log "$0: running $f"
			process_sql --dbname "$POSTGRES_DB" -f "$f"
			log
			;;
		*.sql.gz)
			log "$0: running $f"
			gunzip -c "$f" | process_sql --dbname "$POSTGRES_DB"
			log
			;;
		*.sql.xz)
			log "$0: running $f"
			xzcat "$f" | process_sql --dbname "$POSTGRES_DB"
			log
			;;
		*.sql.zst)
			log "$0: running $f"
			zstd -dc "$f" | process_sql --dbname "$POSTGRES_DB"
			log
			;;
		*) log "$0: ignoring $f" ;;
		esac
	done
}

initialise() {
	verify_minimum_env
	init_database_dir
	setup_hba_conf
	ensure_listen_all
	# Init scripts may use psql/$PGPASSWORD like in the official image; the
	# socket is trusted, so this is only for scripts that insist on it.
	export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
	temp_server_start
	setup_db
	process_init_files
	temp_server_stop
	unset PGPASSWORD
	log
	log 'PostgreSQL init process complete; ready for start up.'
	log
}

_main() {
	# `docker run image -c foo=bar` means `postgres -c foo=bar`.
	if [[ "${1:0:1}" == '-' ]]; then
		set -- postgres "$@"
	fi

	if [[ "$1" == postgres ]] && ! wants_help "$@"; then
		setup_env
		create_dirs
		if [[ "$(id -u)" == 0 ]]; then
			# Drop root for good: re-run this script as postgres (uid 70).
			export HOME=/var/lib/postgresql
			exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
		fi
		if [[ -z "$DATABASE_ALREADY_EXISTS" ]]; then
			initialise
		else
			log
			log 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
			log
		fi
	fi

	# exec: postgres becomes PID 1 and gets SIGINT from `docker stop` directly.
	exec "$@"
}

_main "$@"

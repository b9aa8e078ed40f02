#!/bin/sh
# Entrypoint of the transbot redis:7 stand-in, following the contract of the
# official redis:7-alpine image (see ../README.md).
set -eu

# `docker run image --appendonly yes` / `docker run image /path/redis.conf`
# both mean redis-server with those arguments.
normalise_args() {
	case "${1:-}" in
	-* | *.conf) return 0 ;;
	esac
	return 1
}

# redis-server only accepts these informational flags as its sole argument.
is_info_invocation() {
	[ $# -eq 1 ] || return 1
	case "$1" in
	-v | --version | -h | --help | --test-memory | --check-system) return 0 ;;
	esac
	return 1
}

# A config file that decides protected-mode itself keeps its own choice.
conf_sets_protected_mode() {
	case "$1" in
	*.conf) [ -r "$1" ] && grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "$1" ;;
	*) return 1 ;;
	esac
}

_main() {
	if normalise_args "$@"; then
		set -- redis-server "$@"
	fi

	if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
		# As root: hand /data to redis, then drop privileges for good.
		find . \! -user redis -exec chown redis '{}' +
		exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
	fi

	# Files redis writes (RDB/AOF) are private unless the operator set a umask.
	if [ "$(umask)" = 0022 ]; then
		umask 0077
	fi

	if [ "${1:-}" = redis-server ]; then
		# The official image patches protected-mode's compiled default to "no",
		# so --requirepass alone governs access. Debian's binary still defaults
		# to "yes": say "no" on the command line instead. The option goes after
		# a config file (which redis-server only accepts as first argument) and
		# before the operator's own options, so theirs still win.
		shift
		if is_info_invocation "$@"; then
			set -- redis-server "$@"
		elif [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
			conf="$1"
			shift
			if conf_sets_protected_mode "$conf"; then
				set -- redis-server "$conf" "$@"
			else
				set -- redis-server "$conf" --protected-mode no "$@"
			fi
		else
			set -- redis-server --protected-mode no "$@"
		fi
	fi

	exec "$@"
}

_main "$@"

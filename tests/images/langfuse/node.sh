#!/bin/sh
# `node` of the langfuse:2 stand-in: runs the one script the real image's
# CMD runs (`node ./web/server.js --keepAliveTimeout 110000`, from WORKDIR
# /app) and nothing else, so a stack that overrides the entrypoint and hands
# the image's CMD back works on both images, while `node -e ...` (a
# healthcheck that only the real image could run) still fails here.
set -eu
if [ "${1:-}" = ./web/server.js ] || [ "${1:-}" = /app/web/server.js ]; then
	shift
	# The real server takes its keep-alive timeout from here; the stand-in
	# has no such setting, but refuses arguments the real one would not take.
	if [ "$#" -eq 2 ] && [ "$1" = --keepAliveTimeout ]; then
		shift 2
	fi
	if [ "$#" -eq 0 ]; then
		exec python3 -m standin serve
	fi
	echo "node (langfuse stand-in): unexpected arguments to ./web/server.js: $*" >&2
	exit 9
fi
echo "node (langfuse stand-in): Error: Cannot find module '${1:-}': only ./web/server.js runs here" >&2
exit 1

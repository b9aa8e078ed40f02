#!/bin/sh
# Entrypoint of the registry:2 stand-in, the official image's own rules: a
# config file means `registry serve FILE`, a subcommand or an option is
# passed to registry, anything else is run as given.
set -eu

case "$1" in
*.yaml | *.yml) set -- registry serve "$@" ;;
serve | garbage-collect | help | -*) set -- registry "$@" ;;
esac

exec "$@"

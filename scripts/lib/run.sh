#!/usr/bin/env bash
# The one entry point: every command users type, scripts/<command>.sh, is a
# symlink to this file. It finds the repository through any chain of
# symlinks, checks the shell once for every command, loads the library, and
# runs the command's own file, scripts/commands/<command>.sh, whose `main`
# takes the arguments. Help text and behaviour live in that file.
#
# POSIX sh up to the bash checks: `sh scripts/start.sh` (dash on Debian)
# reads these lines and would otherwise stop at the first bash-only line
# with "[[: not found" (exit 127), saying nothing useful.

# The command is the name of the last symlink before this file: a user's own
# link (~/bin/tb-start -> scripts/start.sh) still runs start.sh. No
# readlink -f: macOS before 12.3 has none.
# The folder and the name of a path by parameter expansion (POSIX), not
# dirname and basename: each of those is a process, and every command
# starts here.
_self="$0"
_command=
while [ -L "$_self" ]; do
    _command="${_self##*/}"
    _link="$(readlink "$_self")"
    case "$_self" in */*) _dir="${_self%/*}" ;; *) _dir=. ;; esac
    case "$_link" in /*) ;; *) _link="$_dir/$_link" ;; esac
    _self="$_link"
done
case "$_self" in */*) _dir="${_self%/*}" ;; *) _dir=. ;; esac
_command_file="$_dir/../commands/$_command"
if [ -z "$_command" ] || [ ! -f "$_command_file" ]; then
    echo "error: $0 is not a command; run one of the scripts in scripts/, e.g. ./scripts/start.sh --help" >&2
    exit 2
fi

if [ -z "${BASH_VERSION:-}" ]; then
    echo "error: run this script with bash (./scripts/$_command or bash scripts/$_command), not sh" >&2
    exit 1
fi

# Before any line that needs a newer bash: macOS ships bash 3.2, and a
# script that died on a syntax error there would tell the user nothing.
# Empty arrays under `set -u`, namerefs and `wait -n` need bash 4.4.
if [ "${BASH_VERSINFO[0]}" -lt 4 ] || { [ "${BASH_VERSINFO[0]}" -eq 4 ] && [ "${BASH_VERSINFO[1]}" -lt 4 ]; }; then
    echo "error: these scripts need bash 4.4 or newer, this is $BASH_VERSION (on macOS: brew install bash, then run the script again)" >&2
    exit 1
fi

# Traced (bash -x), a script shows every secret of .env.infra: the scripts
# hold them in variables, and hiding each traced line is not practical.
case "$-" in
    *x*) echo "warning: bash -x shows the passwords of .env.infra in this trace; do not share it" >&2 ;;
esac

# shellcheck source=scripts/lib/all.sh
. "$_dir/all.sh"
# shellcheck source=/dev/null # one of scripts/commands/*.sh, each linted on its own
. "$_command_file"
unset _self _link _dir _command _command_file
main "$@"

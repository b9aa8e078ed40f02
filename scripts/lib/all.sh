# shellcheck shell=bash
# The whole library, in dependency order. Every script sources this file.

# First, in POSIX sh: `sh script.sh` (dash on Debian) reads the script's
# first lines and this one, and would otherwise stop at the first bash-only
# line with "[[: not found" (exit 127), saying nothing useful.
if [ -z "${BASH_VERSION:-}" ]; then
    _script="$(basename -- "${_self:-$0}")"
    echo "error: run this script with bash (./scripts/$_script or bash scripts/$_script), not sh" >&2
    exit 1
fi

# Then, before any line that needs a newer bash: macOS ships bash 3.2, and
# a script that died on a syntax error there would tell the user nothing.
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

_lib_dir="$(dirname -- "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/lib/common.sh
source "$_lib_dir/common.sh"
# shellcheck source=scripts/lib/lock.sh
source "$_lib_dir/lock.sh"
# shellcheck source=scripts/lib/ahead.sh
source "$_lib_dir/ahead.sh"
# shellcheck source=scripts/lib/services.sh
source "$_lib_dir/services.sh"
# shellcheck source=scripts/lib/env.sh
source "$_lib_dir/env.sh"
# shellcheck source=scripts/lib/docker.sh
source "$_lib_dir/docker.sh"
# shellcheck source=scripts/lib/engine.sh
source "$_lib_dir/engine.sh"
# shellcheck source=scripts/lib/compose.sh
source "$_lib_dir/compose.sh"
# shellcheck source=scripts/lib/exec.sh
source "$_lib_dir/exec.sh"
# shellcheck source=scripts/lib/diagnose.sh
source "$_lib_dir/diagnose.sh"
# shellcheck source=scripts/lib/model.sh
source "$_lib_dir/model.sh"
# shellcheck source=scripts/lib/stack.sh
source "$_lib_dir/stack.sh"
# shellcheck source=scripts/lib/health.sh
source "$_lib_dir/health.sh"
# shellcheck source=scripts/lib/lifecycle.sh
source "$_lib_dir/lifecycle.sh"
# shellcheck source=scripts/lib/backup.sh
source "$_lib_dir/backup.sh"
unset _lib_dir

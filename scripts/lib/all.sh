# shellcheck shell=bash
# The whole library, in dependency order. Every script sources this file.
_lib_dir="$(dirname -- "${BASH_SOURCE[0]}")"
# shellcheck source=common.sh
source "$_lib_dir/common.sh"
# shellcheck source=env.sh
source "$_lib_dir/env.sh"
# shellcheck source=compose.sh
source "$_lib_dir/compose.sh"
# shellcheck source=health.sh
source "$_lib_dir/health.sh"
# shellcheck source=lifecycle.sh
source "$_lib_dir/lifecycle.sh"
unset _lib_dir

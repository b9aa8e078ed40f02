# shellcheck shell=bash
# The whole library, in dependency order. Every script sources this file.
_lib_dir="$(dirname -- "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/lib/common.sh
source "$_lib_dir/common.sh"
# shellcheck source=scripts/lib/env.sh
source "$_lib_dir/env.sh"
# shellcheck source=scripts/lib/compose.sh
source "$_lib_dir/compose.sh"
# shellcheck source=scripts/lib/health.sh
source "$_lib_dir/health.sh"
# shellcheck source=scripts/lib/lifecycle.sh
source "$_lib_dir/lifecycle.sh"
# shellcheck source=scripts/lib/backup.sh
source "$_lib_dir/backup.sh"
unset _lib_dir

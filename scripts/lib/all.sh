# shellcheck shell=bash
# The whole library, in dependency order: a file calls only functions of the
# files above it (tests/lint/test_library_layers.py checks it). Sourced by
# scripts/lib/run.sh before it runs a command.

_lib_dir="${BASH_SOURCE[0]%/*}"
# shellcheck source=scripts/lib/common.sh
source "$_lib_dir/common.sh"
# shellcheck source=scripts/lib/defaults.sh
source "$_lib_dir/defaults.sh"
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
# shellcheck source=scripts/lib/swarm.sh
source "$_lib_dir/swarm.sh"
# shellcheck source=scripts/lib/needs.sh
source "$_lib_dir/needs.sh"
# shellcheck source=scripts/lib/health.sh
source "$_lib_dir/health.sh"
# shellcheck source=scripts/lib/lifecycle.sh
source "$_lib_dir/lifecycle.sh"
# shellcheck source=scripts/lib/backup.sh
source "$_lib_dir/backup.sh"
# Last: each built-in service's own code (lib/services.sh), which may call
# anything above; the files above reach it only through service_hook.
# shellcheck source=scripts/lib/services/postgres.sh
source "$_lib_dir/services/postgres.sh"
# shellcheck source=scripts/lib/services/langfuse.sh
source "$_lib_dir/services/langfuse.sh"
# shellcheck source=scripts/lib/services/redis.sh
source "$_lib_dir/services/redis.sh"
unset _lib_dir

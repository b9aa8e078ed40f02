#!/usr/bin/env bash
# Reads an env file with the scripts' own load_env_file (scripts/lib/env.sh)
# and prints every variable it read as KEY=VALUE, each ended by a NUL byte,
# in file order. The tests compare this with what Compose reads.
# Usage: tests/support/load_env.sh FILE   (exit 1 with the scripts' message
# when they refuse the file)
#    or: tests/support/load_env.sh --serve   reads one FILE name a line from
# stdin, writes FILE.out and FILE.err, and answers each line with the exit
# status: one bash for many files, each read in a subshell of its own.
set -Eeuo pipefail

# shellcheck source=scripts/lib/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/env.sh
source "$REPO_ROOT/scripts/lib/env.sh"

print_env_file() {
    local key
    load_env_file "$1"
    for key in "${ENV_KEYS[@]}"; do
        printf '%s=%s\0' "$key" "${!key}"
    done
}

serve() {
    local file status
    while IFS= read -r file; do
        status=0
        (print_env_file "$file") >"$file.out" 2>"$file.err" || status=$?
        # In a subshell, die says "already reported" (lib/common.sh); the
        # scripts themselves exit 1 then, or 2 for a usage error.
        case "$status" in
            "$_REPORTED_FAILURE") status="$EXIT_FAILURE" ;;
            "$_REPORTED_USAGE") status="$EXIT_USAGE" ;;
        esac
        printf '%s\n' "$status"
    done
}

if [[ "${1:-}" == --serve ]]; then
    serve
else
    print_env_file "$1"
fi

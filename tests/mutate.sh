#!/usr/bin/env bash
# The mutation run: ./tests/mutate.sh [--ci] [--list] [--jobs N] [MUTATION...]
#
# Plants each deliberate defect of tests/mutations/catalogue.py (each breaks
# one promise of the README) in a temporary copy of this checkout (its
# tracked files with working-tree changes, and untracked files git does not
# ignore), one at a time, and runs only the tests named for it: at least one
# must go red. The same tests must first pass on the unmutated copy. The
# copy is removed afterwards, also on Ctrl-C. Each job (--jobs N, default
# the number of CPUs) has a copy of its own. Prints a table and writes it
# to tests/mutations/.last-run.md (git-ignored).
#
#   --ci         only the mutations the unit and lint layers must catch (no
#                Docker engine needed); what .ci/run runs
#   --list       list the mutations
#   --jobs N     mutations run at once (default: the number of CPUs)
#   MUTATION     only these
#
# Exit status: 0 every mutation killed; 1 a mutation survived, or the
# baseline is not green; 2 usage error, or a mutation whose text is not
# found exactly once (the catalogue no longer fits the code); 130
# interrupted.
#
# Uses the test environment of ./tests/run.sh (tests/.venv, or
# TRANSBOT_TEST_VENV), creating it first if needed.
set -Eeuo pipefail
trap 'echo "tests/mutate.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

ROOT="$(cd -P "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
TRANSBOT_TEST_VENV="${TRANSBOT_TEST_VENV:-$ROOT/tests/.venv}"
export TRANSBOT_TEST_VENV

main() {
    local arg status=0
    for arg in "$@"; do
        if [[ "$arg" == -h || "$arg" == --help ]]; then
            PYTHONPATH="$ROOT/tests" exec python3 -m mutations --help
        fi
    done
    # tests/run.sh makes (or reuses) the venv; --version runs nothing else.
    env -u TRANSBOT_TEST_USER "$ROOT/tests/run.sh" --version >/dev/null
    cd "$ROOT/tests"
    PYTHONPATH="$ROOT/tests" "$TRANSBOT_TEST_VENV/bin/python" -m mutations "$@" || status=$?
    # exit, not return: survivors are not an error of this script (ERR trap).
    exit "$status"
}

main "$@"

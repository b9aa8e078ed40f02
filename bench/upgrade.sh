#!/usr/bin/env bash
# The upgrade benchmark: ./bench/upgrade.sh [--quick] [--repeat N] [--rows N] [--publish NAME]
#
# Times ./scripts/upgrade-postgres.sh (PostgreSQL 15 -> 17) and its downtime,
# measured by a client asking every 100 ms, against the same upgrade by hand
# (pg_dumpall | psql into a second server) on a second stack with the same
# data, in the same run. Writes bench/results/upgrade-latest.md (and .json).
# See bench/README.md, "Upgrade and update downtime".
#
# Uses the test suite's Python environment as ./bench/run.sh does, and its
# images (TRANSBOT_TEST_IMAGES=local: the stand-ins, 15 and 17).
# Exit status: 0 measured, 1 it could not run, 2 usage error.
set -Eeuo pipefail
trap 'echo "bench/upgrade.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

ROOT="$(cd -P "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly VENV="${TRANSBOT_TEST_VENV:-$ROOT/tests/.venv}"

main() {
    # tests/run.sh owns the venv (see bench/run.sh).
    local output
    [[ -x "$VENV/bin/python" ]] || echo "bench/upgrade.sh: creating the test environment first (tests/run.sh)..." >&2
    if ! output="$("$ROOT/tests/run.sh" --version 2>&1)"; then
        printf '%s\n' "$output" >&2
        echo "bench/upgrade.sh: tests/run.sh could not prepare $VENV" >&2
        exit 1
    fi
    cd "$ROOT"
    PYTHONPATH="$ROOT/bench:$ROOT/tests${PYTHONPATH:+:$PYTHONPATH}" exec "$VENV/bin/python" -m transbench.upgrade "$@"
}

main "$@"

#!/usr/bin/env bash
# The benchmark command: ./bench/run.sh [--quick] [--repeat N] [--output FILE]
#
# Measures what a developer waits for (start, health check, --help) and what
# the idle stack costs, each against raw Compose in the same run, prints a
# markdown table and writes it to bench/results/latest.md. See bench/README.md.
#
# Uses the test suite's Python environment (tests/.venv, created or updated
# by tests/run.sh) and its helpers, and the images the tests use:
# TRANSBOT_TEST_IMAGES=local for the offline stand-ins, official for the
# images docker-compose.yml names, auto (default) for official when present.
# Exit status: 0 measured (whether or not targets are met), 1 it could not run.
set -Eeuo pipefail
trap 'echo "bench/run.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

ROOT="$(cd -P "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly VENV="${TRANSBOT_TEST_VENV:-$ROOT/tests/.venv}"

main() {
    # tests/run.sh owns the venv: it creates or refreshes it from the pinned
    # requirements, then runs `pytest --version`, which costs a fraction of a
    # second when the venv is current.
    local output
    [[ -x "$VENV/bin/python" ]] || echo "bench/run.sh: creating the test environment first (tests/run.sh)..." >&2
    if ! output="$("$ROOT/tests/run.sh" --version 2>&1)"; then
        printf '%s\n' "$output" >&2
        echo "bench/run.sh: tests/run.sh could not prepare $VENV" >&2
        exit 1
    fi
    cd "$ROOT"
    # The benchmark is the package bench/transbench (python -m transbench);
    # it drives stacks with the suite's package tests/support.
    PYTHONPATH="$ROOT/bench:$ROOT/tests${PYTHONPATH:+:$PYTHONPATH}" exec "$VENV/bin/python" -m transbench "$@"
}

main "$@"

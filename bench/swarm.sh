#!/usr/bin/env bash
# The team stack's benchmark: ./bench/swarm.sh [--quick] [--repeat N] [--publish NAME]
#
# On a three-node swarm of namespaced engines (tests/support/swarm.py, as
# the swarm tests build it), measures a fresh deploy to all-healthy and a
# rolling Langfuse update, each through ./scripts/swarm-deploy.sh and
# through the raw `docker stack deploy` (plus polling `docker service ls`)
# on the same stack file, and counts the health requests that fail through
# each Langfuse node during the updates. See bench/README.md.
#
# Needs root (network namespaces, dockerd processes of its own), the test
# environment (tests/run.sh creates it) and the images the tests use
# (TRANSBOT_TEST_IMAGES). Everything it builds is removed at the end, also
# on failure or Ctrl-C. Exit status: 0 measured, 1 it could not run, 2
# usage error.
set -Eeuo pipefail
trap 'echo "bench/swarm.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

ROOT="$(cd -P "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly VENV="${TRANSBOT_TEST_VENV:-$ROOT/tests/.venv}"

main() {
    local output
    if ! output="$("$ROOT/tests/run.sh" --version 2>&1)"; then
        printf '%s\n' "$output" >&2
        echo "bench/swarm.sh: tests/run.sh could not prepare $VENV" >&2
        exit 1
    fi
    cd "$ROOT"
    PYTHONPATH="$ROOT/bench:$ROOT/tests${PYTHONPATH:+:$PYTHONPATH}" exec "$VENV/bin/python" -m transbench.swarm "$@"
}

main "$@"

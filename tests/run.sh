#!/usr/bin/env bash
# The test command: ./tests/run.sh [pytest arguments...]
#
# Creates tests/.venv from the pinned tests/requirements.txt (again whenever
# that file changes) and runs the whole pytest suite, or what the arguments
# select, e.g.  ./tests/run.sh -m unit   or   ./tests/run.sh -k reset
#
# Needs Python 3.9+ and, for everything beyond the unit and lint layers, a
# running Docker engine with Compose. On a machine without a container
# registry the e2e tests use stand-in images: see tests/images/README.md.
set -Eeuo pipefail
trap 'echo "tests/run.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

ROOT="$(cd -P "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly VENV="${TRANSBOT_TEST_VENV:-$ROOT/tests/.venv}"
readonly REQUIREMENTS="$ROOT/tests/requirements.txt"

# The venv is rebuilt only when the pinned requirements change.
ensure_venv() {
    local stamp="$VENV/.requirements.sha256" wanted
    wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
    if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        return 0
    fi
    echo "Creating the test environment in ${VENV#"$ROOT/"} ..."
    python3 -m venv --clear "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    printf '%s\n' "$wanted" >"$stamp"
}

main() {
    ensure_venv
    cd "$ROOT"
    exec "$VENV/bin/python" -m pytest "$@"
}

main "$@"

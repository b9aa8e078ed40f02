#!/usr/bin/env bash
# The test command: ./tests/run.sh [pytest arguments...]
#
# Creates tests/.venv from the pinned tests/requirements.txt (again whenever
# that file changes), then:
#   - without arguments: the whole suite in two phases. First everything not
#     marked `serial`, in parallel workers (pytest-xdist, --dist loadgroup:
#     tests that share a module-scoped stack stay on one worker, in order, see
#     worker_group in tests/conftest.py; the others spread one by one); then
#     the `serial` tests, one at a time, on a quiet machine.
#   - with arguments: one pytest run with exactly those arguments, e.g.
#     ./tests/run.sh -m unit   or   ./tests/run.sh -k reset -x
#
# Environment:
#   TRANSBOT_TEST_WORKERS  parallel workers of the first phase (default: the
#                          number of CPUs plus one; 1 = no parallel phase)
#   TRANSBOT_TEST_USER     run as root, without arguments: every test that
#                          does not need root runs as this user (a CI runner's
#                          situation), the `needs_root` tests as root
#   TRANSBOT_TEST_VENV     where the Python environment lives (tests/.venv)
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
# pytest's "no tests were selected": a phase part may legitimately be empty.
readonly NO_TESTS=5
CHILDREN=()
INTERRUPTED=""

die() {
    printf 'tests/run.sh: %s\n' "$*" >&2
    exit 2
}

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

default_workers() {
    echo $(($(nproc 2>/dev/null || echo 1) + 1))
}

# What TRANSBOT_TEST_USER needs, checked before an hour of tests depends on it.
check_test_user() {
    local user="$1"
    ((EUID == 0)) || die "TRANSBOT_TEST_USER=$user needs tests/run.sh to run as root (it runs the needs_root tests itself)"
    id -u "$user" >/dev/null 2>&1 || die "TRANSBOT_TEST_USER=$user: no such user"
    runuser -u "$user" -- test -r "$ROOT/tests/conftest.py" -a -x "$ROOT/tests" ||
        die "$user cannot read $ROOT: give it its own checkout"
    runuser -u "$user" -- "$VENV/bin/python" -c '' 2>/dev/null ||
        die "$user cannot run $VENV/bin/python (a Python under /root?): create the venv as $user with TRANSBOT_TEST_VENV set to a folder it owns"
}

# One pytest run, as USER ("" = as ourselves). Always in a background
# subshell (in_background, &): exec, so that a TERM sent to it reaches pytest.
pytest_as() {
    local user="$1"
    shift
    if [[ -n "$user" ]]; then
        exec runuser -u "$user" -- "$VENV/bin/python" -m pytest "$@"
    fi
    # Root's part of a run shared with a user: keep root-owned caches out
    # of the user's checkout.
    PYTHONDONTWRITEBYTECODE=1 exec "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
}

# Runs a command in the background and waits for it, so that a signal to
# this script reaches the trap at once (and through it the command).
in_background() {
    local pid status
    "$@" &
    pid=$!
    CHILDREN+=("$pid")
    wait_for "$pid"
}

wait_for() {
    local status
    while true; do
        status=0
        wait "$1" || status=$?
        # wait returns early (>128) when a trapped signal arrives.
        kill -0 "$1" 2>/dev/null || return "$status"
    done
}

# Runs one part of a phase; an empty selection is not a failure.
run_part() {
    local label="$1" status=0
    shift
    [[ -z "$INTERRUPTED" ]] || return 1
    printf '\n===== tests/run.sh: %s =====\n' "$label"
    in_background "$@" || status=$?
    if ((status == NO_TESTS)); then
        echo "(no tests in this part)"
        status=0
    fi
    return "$status"
}

# A CI runner's SIGTERM or a Ctrl-C: start nothing more, and send the
# running parts TERM (background commands ignore SIGINT; the suite turns
# TERM into KeyboardInterrupt, so stacks are still torn down).
# shellcheck disable=SC2317  # reached through the traps in main
on_signal() {
    local pid
    INTERRUPTED="$1"
    for pid in "${CHILDREN[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
}

parallel_options() {
    if (($1 > 1)); then
        printf '%s\n' -n "$1" --dist loadgroup
    fi
}

# Without TRANSBOT_TEST_USER: two pytest runs, the parallel phase and the
# serial one.
run_phases() {
    local workers="$1" status=0 parallel=()
    mapfile -t parallel < <(parallel_options "$workers")
    run_part "parallel phase (${workers} workers): not serial" \
        "$VENV/bin/python" -m pytest "${parallel[@]}" -m "not serial" || status=1
    run_part "serial phase" "$VENV/bin/python" -m pytest -m serial || status=1
    return "$status"
}

# With TRANSBOT_TEST_USER: each phase is split by needs_root. Root's part of
# the parallel phase runs beside the user's workers, its output kept in a
# file and shown afterwards so the two do not interleave.
run_phases_as() {
    local user="$1" workers="$2" status=0 parallel=() root_log root_pid root_status=0
    mapfile -t parallel < <(parallel_options "$workers")
    root_log="$(mktemp /tmp/transbot-tests-root.XXXXXX)"
    pytest_as "" -m "needs_root and not serial" >"$root_log" 2>&1 &
    root_pid=$!
    CHILDREN+=("$root_pid")
    run_part "parallel phase as $user (${workers} workers): not serial, not needs_root" \
        pytest_as "$user" "${parallel[@]}" -m "not serial and not needs_root" || status=1
    wait_for "$root_pid" || root_status=$?
    printf '\n===== tests/run.sh: parallel phase as root, beside it: needs_root, not serial =====\n'
    cat "$root_log"
    rm -f "$root_log"
    ((root_status == 0 || root_status == NO_TESTS)) || status=1
    run_part "serial phase as $user: serial, not needs_root" \
        pytest_as "$user" -m "serial and not needs_root" || status=1
    run_part "serial phase as root: serial, needs_root" \
        pytest_as "" -m "serial and needs_root" || status=1
    return "$status"
}

main() {
    local workers="${TRANSBOT_TEST_WORKERS:-$(default_workers)}" began="$SECONDS" status=0
    [[ "$workers" =~ ^[1-9][0-9]*$ ]] || die "TRANSBOT_TEST_WORKERS must be a number of workers (1 or more), not '$workers'"
    ensure_venv
    cd "$ROOT"
    if (($# > 0)); then
        [[ -z "${TRANSBOT_TEST_USER:-}" ]] ||
            die "TRANSBOT_TEST_USER works for the whole suite only: run ./tests/run.sh without arguments, or unset it"
        exec "$VENV/bin/python" -m pytest "$@"
    fi
    # One id for every session of this run (the reliability figures add up).
    TRANSBOT_TEST_RUN="${TRANSBOT_TEST_RUN:-$(date +%s)-$$}"
    export TRANSBOT_TEST_RUN
    trap 'on_signal INT' INT
    trap 'on_signal TERM' TERM
    if [[ -n "${TRANSBOT_TEST_USER:-}" ]]; then
        check_test_user "$TRANSBOT_TEST_USER"
        run_phases_as "$TRANSBOT_TEST_USER" "$workers" || status=$?
    else
        run_phases "$workers" || status=$?
    fi
    printf '\ntests/run.sh: %s in %d s\n' "$( ((status == 0)) && echo passed || echo FAILED)" "$((SECONDS - began))"
    # exit, not return: a failed suite is not an error of this script (ERR trap).
    exit "$status"
}

main "$@"

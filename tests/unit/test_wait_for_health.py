"""start.sh waits for health and says why it gave up.

wait_until_healthy (scripts/lib/health.sh) is driven here by a docker
stand-in defined as a shell function after the real library is sourced: it
reports one postgres container that is running, still "starting", and
restarted once more at every look, as a crash-looping service is. The real
engine runs the same case in tests/reliability/test_hostile_input.py.
"""

from __future__ import annotations

import subprocess
import time

from support.engine import REPO_ROOT

_CRASH_LOOP = r'''
source "$REPO/scripts/lib/all.sh"
docker() {
    local count
    case "$1" in
        ps) echo c-postgres ;;
        inspect)
            count="$(cat "$COUNTER")"
            echo $((count + 1)) >"$COUNTER"
            echo "postgres c-postgres running starting $count" ;;
    esac
}
wait_until_healthy "$TIMEOUT" postgres
'''


def test_a_container_restarting_while_it_starts_is_called_crashing_at_once(tmp_path):
    counter = tmp_path / "restarts"
    counter.write_text("0\n")
    began = time.monotonic()
    result = subprocess.run(["bash", "-c", _CRASH_LOOP], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL,
                            env={"PATH": "/usr/bin:/bin", "REPO": str(REPO_ROOT), "COUNTER": str(counter),
                                 "TIMEOUT": "8", "NO_COLOR": "1"})
    elapsed = time.monotonic() - began
    assert result.returncode == 1, result
    assert "error: postgres restarted while starting: it is crashing" in result.stderr, result
    # The first restart shows at the second look (~0.25 s); a missed crash
    # loop would wait out the 8 s.
    assert elapsed < 5, f"gave up after {elapsed:.1f} s, not at the first restart"


def test_start_fails_when_the_stack_does_not_become_healthy(harness):
    # The fake engine starts nothing: no container ever becomes healthy.
    harness.write_env()
    result = harness.run("start.sh")
    assert result.returncode == 1, result
    assert "Waiting for" in result.stdout and "is not running" in result.stderr, result
    assert "TransBot infrastructure is up" not in result.stdout

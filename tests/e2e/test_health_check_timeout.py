"""health-check.sh --wait gives up at its --timeout when a service never
becomes healthy (README: "--wait polls until every service is healthy or
the timeout passes"; exit 1 when not healthy).

The slow start-ups of Langfuse and start.sh's own timeouts are tested
elsewhere; here a service is simply down: redis, stopped with stop.sh.
"""

from __future__ import annotations

import time

from .common import script_ok

# Long enough that one round of probes without waiting (up to ~2 s on a
# loaded 2-core machine) cannot pass for a wait.
TIMEOUT = 5


def test_health_check_wait_gives_up_at_its_timeout_when_a_service_stays_down(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    script_ok(stack, "stop.sh", "redis")

    began = time.monotonic()
    result = stack.script("health-check.sh", "--wait", "--timeout", str(TIMEOUT), timeout=60)
    seconds = time.monotonic() - began

    assert result.returncode == 1, result
    # Bash counts whole seconds, so the deadline can pass up to a second
    # early; each round of probes takes a fraction of a second more.
    assert TIMEOUT - 1 <= seconds <= TIMEOUT + 4, f"gave up after {seconds:.1f}s with --timeout {TIMEOUT}"
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:] if line.strip()}
    assert "fail" in lines["redis"] and "not running" in lines["redis"], result
    assert "ok:" in lines["postgres"] and "ok:" in lines["langfuse"], result

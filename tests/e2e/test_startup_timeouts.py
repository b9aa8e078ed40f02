"""Start-up with migrations as slow as the real Langfuse's (~10 s on an
empty database): start.sh and health-check.sh give up when their --timeout
runs out, saying what they waited for and why; with the default timeout
start.sh waits them out, and the healthcheck's start_period covers them (no
probe failure counts against the service while it migrates).

The stand-in takes STANDIN_MIGRATION_SECONDS from the copy's
docker-compose.override.yml; the official image takes this long by itself.
Compose v2 only: the waiting is the scripts', the same for both versions.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import threading
import time

import pytest

from support.engine import run
from support.stack import Stack

from .langfuse_override import uses_standins, write_langfuse_env

REAL_MIGRATION_SECONDS = 10
# Long enough that a stack still migrates after start.sh gave up at 3 s and
# health-check.sh at 2 s more, on a busy machine too.
SLOW_MIGRATION_SECONDS = 25


@pytest.fixture
def stack(request, engine, images, compose_v2):
    stack = Stack.create(compose_v2, images)
    yield stack
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"\n===== diagnostics for {stack.project} =====\n{stack.diagnostics()}")
    stack.destroy()


class HealthWatcher(threading.Thread):
    """Polls Langfuse's container health while start.sh runs: every status
    seen and the longest failing streak Docker counted."""

    def __init__(self, stack: Stack):
        super().__init__(daemon=True)
        self.stack = stack
        self.stop = threading.Event()
        self.statuses: list[str] = []
        self.max_failing_streak = 0
        self.failed_probes: set[str] = set()  # start times of failed probes seen in the health log

    def run(self) -> None:
        # One last look after start.sh returned: it may see "healthy" up to
        # one poll before this thread does.
        while not self.stop.wait(0.5):
            self.look()
        self.look()

    def look(self) -> None:
        container = self.stack.container("langfuse")
        if container:
            inspected = run(["docker", "inspect", "--format", "{{json .State.Health}}", container], timeout=30)
            health = json.loads(inspected.stdout or "null") if inspected.returncode == 0 else None
            if health:
                self.record(health)

    def record(self, health: dict) -> None:
        if not self.statuses or self.statuses[-1] != health["Status"]:
            self.statuses.append(health["Status"])
        self.max_failing_streak = max(self.max_failing_streak, health["FailingStreak"])
        self.failed_probes |= {probe["Start"] for probe in health.get("Log") or [] if probe["ExitCode"] != 0}


def start_spans(stack: Stack) -> list[float]:
    """Seconds from "Prisma schema loaded" (the entrypoint starts migrating)
    to the server's "Ready" line, for each start of Langfuse's container,
    from Docker's timestamps of its log."""
    logs = run(["docker", "logs", "--timestamps", stack.container("langfuse")])
    lines = sorted((logs.stdout + logs.stderr).splitlines())
    spans, began = [], None
    for line in lines:
        stamp, _, text = line.partition(" ")
        when = datetime.datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp()
        if "Prisma schema loaded" in text:
            began = when
        elif "Ready" in text and began is not None:
            spans.append(when - began)
            began = None
    return spans


@pytest.mark.serial  # "a restart does not migrate again" is a time bound: not beside other stacks
def test_start_waits_out_real_length_migrations_within_start_period(stack):
    write_langfuse_env(stack, {"STANDIN_MIGRATION_SECONDS": str(REAL_MIGRATION_SECONDS)})
    watcher = HealthWatcher(stack)
    watcher.start()
    try:
        started = stack.script("start.sh")
    finally:
        watcher.stop.set()
        watcher.join()
    assert started.returncode == 0, started
    # The wait was real: Langfuse only got healthy after its migrations
    # (the official image takes its own time, about as long)...
    (migrated,) = start_spans(stack)
    if uses_standins(stack):
        assert migrated >= REAL_MIGRATION_SECONDS - 0.5, f"migrations took {migrated:.1f}s"
    assert watcher.failed_probes, "no probe ran (and failed) while Langfuse migrated: the test proves nothing"
    # ...and although probes failed meanwhile, none counted: start_period covered them.
    assert watcher.max_failing_streak == 0, f"failing streak {watcher.max_failing_streak} during migrations"
    assert "unhealthy" not in watcher.statuses, watcher.statuses
    assert watcher.statuses[-1] == "healthy", watcher.statuses
    logs = run(["docker", "logs", stack.container("langfuse")])
    assert "All migrations have been successfully applied." in logs.stdout + logs.stderr

    # Slow only on an empty database, as with Prisma: a restart of the
    # migrated Langfuse does not wait for them again.
    restarted = stack.script("restart.sh", "langfuse", "--timeout", "60")
    assert restarted.returncode == 0, restarted
    first, again = start_spans(stack)
    assert again < min(first, REAL_MIGRATION_SECONDS) / 2, f"{again:.1f}s of migrations again"


def test_start_and_health_check_time_out_on_a_stack_that_is_still_migrating(stack):
    write_langfuse_env(stack, {"STANDIN_MIGRATION_SECONDS": str(SLOW_MIGRATION_SECONDS)})
    # PostgreSQL and Redis first, so Langfuse is the only service left to wait for.
    first = stack.script("start.sh", "postgres", "redis")
    assert first.returncode == 0, first

    began = time.monotonic()
    started = stack.script("start.sh", "--timeout", "3")
    gave_up_after = time.monotonic() - began
    assert started.returncode == 1, started
    assert "error: timed out after 3s waiting for langfuse\n" in started.stderr, started
    assert gave_up_after < SLOW_MIGRATION_SECONDS, f"start.sh waited {gave_up_after:.1f}s, not 3s"
    # The diagnostics of the service it gave up on: state, last probe, its log.
    diagnostics = started.stderr.split("timed out after 3s", 1)[1]
    assert "--- langfuse ---" in diagnostics and "state:" in diagnostics and "last probe:" in diagnostics
    assert "last log lines:" in diagnostics and "./scripts/logs.sh langfuse" in diagnostics
    # Still starting, not crashed (its log may still be empty on a busy machine).
    assert re.search(r"^state:\s+running starting$", diagnostics, re.M), diagnostics
    for name, value in stack.env_file().items():
        if name.endswith(("PASSWORD", "SECRET", "SECRET_KEY", "SALT")) and len(value) >= 6:
            assert value not in started.output, f"{name} was printed"

    checked = stack.script("health-check.sh", "--wait", "--timeout", "2")
    assert checked.returncode == 1, checked
    assert re.search(r"^langfuse\s+running\s+\S+\s+fail", checked.stdout, re.M), checked.stdout
    assert re.search(r"^postgres\s+running\s+healthy\s+ok", checked.stdout, re.M), checked.stdout
    # It gave up because Langfuse was still migrating, not because it is broken:
    # once the migrations are done the same check passes.
    assert time.monotonic() - began < SLOW_MIGRATION_SECONDS, "the stack was no longer migrating"
    recovered = stack.script("health-check.sh", "--wait", "--timeout", "120")
    assert recovered.returncode == 0, recovered


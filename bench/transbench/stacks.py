"""The stacks the benchmark drives: creating and removing them, starting them
through start.sh or raw Compose, stopping and wiping them, and the baseline
stack without healthchecks (and how to tell that it answers)."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from pathlib import Path

from support import clients
from support.engine import Compose, compose_variants, engine_problem, remove_stale_projects, run
from support.stack import Stack, force_rmtree

from .common import SCRIPTS, BenchError, log, require_ok
from .compose_path import ComposePath
from .machine import other_containers
from .timeline import EventStream, StartRun, start_timeline


def engine_with_compose_v2(needed_by: str) -> Compose:
    """Compose v2 on an engine that answers, or a BenchError naming what
    is missing: every benchmark drives its stacks through both."""
    problem = engine_problem()
    if problem:
        raise BenchError(problem)
    found = compose_variants().get("v2")
    if not isinstance(found, Compose):
        raise BenchError(f"{needed_by} needs Compose v2: {found}")
    return found


def remove_stale_stacks() -> None:
    """What a killed run (of the bench or the tests) left on the engine."""
    removed = remove_stale_projects()
    if removed:
        log(f"removed stale test stacks: {', '.join(sorted(removed))}")

# Data kept by the services on the host: what a cold start must not find.
DATA_FOLDERS = ("postgres", "redis")

NO_HEALTHCHECKS_FILE = "bench-no-healthchecks.yml"
NO_HEALTHCHECKS_YAML = """\
# Written by bench/transbench: the idle-cost baseline, the same stack with
# Docker's healthchecks off (langfuse then waits for postgres to be started).
services:
  postgres:
    healthcheck:
      disable: true
  langfuse:
    healthcheck:
      disable: true
    depends_on:
      postgres:
        condition: service_started
  redis:
    healthcheck:
      disable: true
"""


# --- Waiting for a stack without healthchecks --------------------------------------------


def postgres_answers(stack: Stack) -> bool:
    import psycopg

    try:
        with clients.postgres(stack, connect_timeout=3) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def redis_answers(stack: Stack) -> bool:
    import redis

    cache = clients.redis_client(stack)
    try:
        return cache.ping() is True
    except redis.RedisError:
        return False
    finally:
        cache.close()


def langfuse_answers(stack: Stack) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", stack.ports["langfuse"], timeout=3)
        connection.request("GET", "/api/public/health")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


def wait_until_answering(stack: Stack, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if postgres_answers(stack) and redis_answers(stack) and langfuse_answers(stack):
            return
        time.sleep(0.5)
    raise BenchError(f"the stack without healthchecks did not answer within {timeout:.0f} s\n{stack.diagnostics()}")


class Stacks:
    """The benchmark's stacks on one engine, one Compose, one set of images
    and one path (the compose files both sides of a comparison run)."""

    def __init__(self, compose: Compose, images: dict[str, str], path: ComposePath):
        self.compose = compose
        self.images = images
        self.path = path
        self.stacks: list[Stack] = []
        self.scratch: list[Path] = []
        # Containers of anyone else on this engine, seen between measurements.
        self.others_seen = 0

    def note_others(self) -> None:
        self.others_seen = max(self.others_seen, other_containers())

    def new_stack(self) -> Stack:
        stack = Stack.create(self.compose, self.images)
        stack.extra_env.update(dict(self.path.script_env))
        self.stacks.append(stack)
        (stack.root / NO_HEALTHCHECKS_FILE).write_text(NO_HEALTHCHECKS_YAML)
        # Created once, as start.sh would on a first run: the baseline needs it too.
        require_ok("init-env.sh", stack.script("init-env.sh"))
        return stack

    def cleanup(self) -> None:
        for stack in self.stacks:
            try:
                stack.destroy()
            except Exception as exc:  # keep cleaning the others
                print(f"bench: could not remove {stack.project}: {exc}", file=sys.stderr)
        for path in self.scratch:
            force_rmtree(path)

    def down(self, stack: Stack) -> None:
        require_ok("docker compose down", self.compose_cli(stack, "down", "--remove-orphans", timeout=300))

    def wipe(self, stack: Stack) -> None:
        """No containers, no network, no data: a fresh clone's state (with .env.infra)."""
        self.down(stack)
        for folder in DATA_FOLDERS:
            force_rmtree(stack.root / "volumes" / folder, helper_image=self.images["postgres"])
        time.sleep(1)

    def stop(self, stack: Stack) -> None:
        """Containers and network removed, data kept: what stop.sh leaves."""
        require_ok("stop.sh", stack.script("stop.sh"))
        time.sleep(1)

    def start(self, stack: Stack, kind: str, rows: int) -> StartRun:
        t0 = time.time()
        events = EventStream(stack.project, since=t0)
        t0 = time.time()
        began = time.perf_counter()
        try:
            if kind == SCRIPTS:
                result = stack.script("start.sh")
            else:
                result = self.compose_cli(stack, "up", "-d", "--wait", timeout=900)
            seconds = time.perf_counter() - began
        finally:
            captured = events.stop()
        if result.returncode != 0:
            raise BenchError(f"{'start.sh' if kind == SCRIPTS else 'docker compose up -d --wait'} failed "
                             f"(exit {result.returncode})\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n"
                             f"{stack.diagnostics()}")
        timeline = start_timeline(stack, t0, seconds, captured)
        self.path.verify(stack)
        self.note_others()
        return StartRun(kind, rows, seconds, timeline)

    def compose_cli(self, stack: Stack, *args: str, extra_files: tuple[str, ...] = (),
                    timeout: float = 300) -> subprocess.CompletedProcess:
        """Raw Compose on the stack with the path's files, passed as the
        scripts pass them: the baseline runs what start.sh runs. EXTRA_FILES
        go after every file in effect."""
        files = [*self.path.files(stack.root), *extra_files] if extra_files else self.path.cli_files(stack.root)
        command = [*self.compose.command, "--project-name", stack.project, "--env-file", ".env.infra"]
        for name in files:
            command += ["-f", name]
        return run([*command, *args], cwd=stack.root, env=stack.env(), timeout=timeout)

    def no_healthcheck_compose(self, stack: Stack, *args: str) -> subprocess.CompletedProcess:
        return self.compose_cli(stack, *args, extra_files=(NO_HEALTHCHECKS_FILE,), timeout=600)


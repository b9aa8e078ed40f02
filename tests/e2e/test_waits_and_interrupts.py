"""start.sh's waits on the real engine with the real Compose: --timeout
bounds Compose's own wait for a healthy dependency too, the wait says what
it still waits for, and Ctrl-C, SIGTERM and stop.sh end it cleanly.

Postgres' healthcheck never passes here (an override runs `false`, with
retries enough for Compose to wait for a quarter of an hour): `up` blocks
on langfuse's `depends_on: condition: service_healthy`, as it did for the
user whose `start.sh --timeout 10` returned after 363 s.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time

import pytest

from support.engine import as_from_a_prompt, finish
from support.stack import Stack

from .langfuse_override import write_langfuse_env

# Postgres never turns healthy, and Compose alone would wait ~1000 s for it.
NEVER_HEALTHY_POSTGRES = """    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1000
      start_period: 0s
"""


def make_postgres_never_healthy(stack: Stack) -> None:
    path = stack.root / "docker-compose.override.yml"
    text = path.read_text()
    assert "  postgres:\n" in text
    path.write_text(text.replace("  postgres:\n", "  postgres:\n" + NEVER_HEALTHY_POSTGRES, 1))


def processes_of(stack: Stack) -> str:
    """Every process whose command line names the stack's project or its
    folder: the scripts, Compose, `docker events` of the project."""
    found = [subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout
             for pattern in (f"com.docker.compose.project={stack.project}", f"--project-name {stack.project}",
                             str(stack.root))]
    return "".join(found)


def start_in_background(stack: Stack, *args: str) -> subprocess.Popen:
    """./scripts/start.sh as typed at a prompt: SIGINT at its default, its
    own process group (a terminal's foreground job)."""
    return subprocess.Popen([str(stack.root / "scripts" / "start.sh"), *args], env=stack.env(),
                            cwd=stack.root.parent, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=as_from_a_prompt)


def read_until(process: subprocess.Popen, pattern: str, timeout: float = 120) -> str:
    """start.sh's stdout up to the first line matching PATTERN."""
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1)
        if not ready:
            continue
        line = process.stdout.readline()
        if not line:
            break
        seen += line
        if re.search(pattern, line):
            return seen
    os.killpg(process.pid, signal.SIGKILL)
    pytest.fail(f"start.sh never printed {pattern!r}:\n{seen}")



def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_start_gives_up_at_its_timeout_while_compose_waits_for_an_unhealthy_dependency(make_stack, compose):
    stack = make_stack(compose)
    make_postgres_never_healthy(stack)
    # Returning at all within 120 s is the point: Compose alone waits ~1000 s.
    result = stack.script("start.sh", "--timeout", "12", timeout=120)
    assert result.returncode == 1, result
    # It said what it waited for while it waited...
    assert re.search(r"^  still waiting \(1[0-2]s of 12s\): .*postgres running, health starting", result.stdout,
                     re.M), result
    # ...and why it gave up, with the diagnostics of what is not healthy.
    (line,) = error_lines(result.stderr)
    assert re.match(r"error: timed out after 12s waiting for (langfuse, postgres|postgres, langfuse)"
                    r"; docker compose up was stopped$", line), result
    assert "--- postgres ---" in result.stderr and re.search(r"^state:\s+running starting$", result.stderr, re.M)
    assert "docker compose up failed" not in result.output
    assert processes_of(stack) == ""


def test_ctrl_c_at_any_moment_of_start_is_one_line_and_exit_130(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    make_postgres_never_healthy(stack)
    # While Compose creates and starts containers, then while it waits for
    # postgres to be healthy: the first run creates them all, later runs
    # find them and go straight to the wait.
    for seconds in (1.0, 2.0, 4.0, 8.0):
        process = start_in_background(stack)
        time.sleep(seconds)
        # Ctrl-C reaches the whole foreground process group, as in a terminal.
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = finish(process, 90)
        assert process.returncode == 130, (seconds, stdout, stderr)
        assert error_lines(stderr) == [
            "error: interrupted; nothing more was done (run ./scripts/start.sh again to finish)"], (seconds, stderr)
        assert "docker compose up failed" not in stdout + stderr and "--- postgres ---" not in stderr, seconds
        assert processes_of(stack) == "", seconds


def test_sigterm_during_the_wait_ends_every_process_of_start(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    make_postgres_never_healthy(stack)
    process = start_in_background(stack)
    read_until(process, r"Waiting for .* to be healthy")
    time.sleep(3)  # Compose is waiting for postgres, start.sh follows the engine's events
    assert "docker events" in processes_of(stack) or "docker compose" in processes_of(stack)
    # `kill PID`: the script alone gets the signal, not its children.
    os.kill(process.pid, signal.SIGTERM)
    _, stderr = finish(process, 90)
    assert process.returncode == 143, stderr
    assert error_lines(stderr) == [
        "error: terminated; nothing more was done (run ./scripts/start.sh again to finish)"], stderr
    assert processes_of(stack) == ""


def test_stop_during_the_health_wait_stops_at_once_and_start_says_so(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    # Langfuse migrates for minutes: `up` returns at once, the health wait
    # goes on for them.
    write_langfuse_env(stack, {"STANDIN_MIGRATION_SECONDS": "300"})
    process = start_in_background(stack, "--timeout", "600")
    read_until(process, r"^ok postgres is healthy")
    # stop.sh does not wait behind start.sh's health wait: had it to, it
    # would still wait when its own time limit ran out.
    stopped = stack.script("stop.sh", timeout=90)
    assert stopped.returncode == 0, stopped
    assert "waiting for start.sh" not in stopped.stderr
    stdout, stderr = finish(process, 90)
    assert process.returncode == 1, stderr
    (line,) = error_lines(stderr)
    assert re.match(r"error: langfuse stopped while start\.sh waited for it to be healthy: stop\.sh \(pid \d+\) "
                    r"changed the stack meanwhile; nothing more was done$", line), stderr
    assert "internal error" not in stderr and "--- langfuse ---" not in stderr
    assert processes_of(stack) == ""

    # health-check.sh --wait says what it still waits for, on stderr (its
    # stdout is the table).
    checked = stack.script("health-check.sh", "--wait", "--timeout", "12", timeout=120)
    assert checked.returncode == 1, checked
    assert re.search(r"^  still waiting \(1[0-2]s of 12s\): postgres missing; langfuse missing; redis missing$",
                     checked.stderr, re.M), checked

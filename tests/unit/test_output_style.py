"""What the scripts print when their output goes to a file, a pipe or CI.

Journey: a developer pipes a script into a log or runs it in CI, without
setting NO_COLOR: the output has no ANSI escape codes. At a terminal the
messages are coloured, unless NO_COLOR is set.
"""

from __future__ import annotations

import os
import pty
import subprocess

import pytest

from .harness import ANSI_ESCAPE, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_no_colour_without_a_terminal(harness, script):
    for args in (["--help"], ["--bogus"]):
        result = harness.run(script, *args)
        assert not ANSI_ESCAPE.search(result.output), result


def test_no_colour_in_a_full_start_without_a_terminal(harness):
    result = harness.run("start.sh", "--no-wait", env=harness.free_ports_env())
    assert result.returncode == 0, result
    assert "==> Created .env.infra" in result.stdout
    assert "ok started" in result.stdout
    assert not ANSI_ESCAPE.search(result.output), result


def test_no_colour_in_env_errors_without_a_terminal(harness):
    harness.write_env({"POSTGRES_PORT": "0"})
    result = harness.run("start.sh")
    assert result.returncode == 1, result
    assert result.stderr.startswith("error: ")
    assert not ANSI_ESCAPE.search(result.output), result


def run_with_stderr_on_a_terminal(harness, script: str, *args: str, **env: str) -> str:
    controller, terminal = pty.openpty()
    try:
        completed = subprocess.run(
            [str(harness.repo / "scripts" / script), *args], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=terminal, env=harness.env(**env), cwd=harness.workdir, timeout=30,
        )
        os.close(terminal)
        terminal = -1
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the terminal is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
    assert completed.returncode == 2
    return b"".join(chunks).decode()


def test_errors_are_coloured_at_a_terminal(harness):
    output = run_with_stderr_on_a_terminal(harness, "stop.sh", "--bogus")
    assert "unknown option" in output
    assert "\x1b[31merror:\x1b[0m" in output


def test_no_colour_at_a_terminal_when_no_color_is_set(harness):
    output = run_with_stderr_on_a_terminal(harness, "stop.sh", "--bogus", NO_COLOR="1")
    assert "unknown option" in output
    assert not ANSI_ESCAPE.search(output)


def run_with_stdout_on_a_terminal(harness, script: str, *args: str, **env: str) -> tuple[int, str]:
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(harness.repo / "scripts" / script), *args], stdin=subprocess.DEVNULL,
            stdout=terminal, stderr=subprocess.DEVNULL, env=harness.env(**env), cwd=harness.workdir,
        )
        os.close(terminal)
        terminal = -1
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        returncode = process.wait(timeout=30)
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
    return returncode, b"".join(chunks).decode()


def test_ok_and_step_markers_are_coloured_at_a_terminal(harness):
    harness.write_env()
    returncode, output = run_with_stdout_on_a_terminal(harness, "start.sh", "--no-wait")
    assert returncode == 0, output
    assert "\x1b[1m==>\x1b[0m Starting" in output
    assert "\x1b[32mok\x1b[0m started" in output


def test_logs_keep_composes_colours_at_a_terminal_with_compose_v2(harness):
    harness.write_env()
    returncode, output = run_with_stdout_on_a_terminal(harness, "logs.sh", "redis")
    assert returncode == 0, output
    [logs] = harness.compose_calls()
    assert logs.compose_options[-2:] == ["--ansi", "always"], logs
    assert "--no-color" not in logs.compose_command

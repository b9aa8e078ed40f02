"""start.sh's waits are bounded by --timeout and say what they wait for;
Ctrl-C and SIGTERM end them, and everything they started, at once.

Journey: a developer starts the stack while Compose still waits for a
dependency that never turns healthy. The fake `up` blocks as the real one
does (FAKE_DOCKER_COMPOSE_SLEEP) and handles SIGINT and SIGTERM as the real
Compose v2 and v1 do. start.sh prints what it still waits for every 10 s,
gives up at --timeout with the diagnostics, stops `up`, and leaves nothing
running; Ctrl-C gives one line and exit 130, SIGTERM one line and exit 143.
The real engine and Compose run the same cases in
tests/e2e/test_waits_and_interrupts.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest

from support.engine import REPO_ROOT, as_from_a_prompt, finish

from .harness import V1_ONLY, V2

# Far longer than any --timeout below: a start that waited for `up` to
# return by itself would run into the test's own time limit.
UP_BLOCKS_SECONDS = "300"


def processes_of(harness) -> str:
    """Every process whose command line names the copy of the repository
    (the scripts, the fake Compose): none may outlive a script."""
    found = subprocess.run(["pgrep", "-af", str(harness.repo)], capture_output=True, text=True)
    return found.stdout


def start_in_background(harness, *args: str, docker=V2) -> subprocess.Popen:
    """start.sh as from a prompt (SIGINT at its default, its own process
    group like a terminal's foreground job), once the fake `up` runs."""
    process = subprocess.Popen([str(harness.repo / "scripts" / "start.sh"), *args],
                               env=harness.env(docker, FAKE_DOCKER_COMPOSE_SLEEP=UP_BLOCKS_SECONDS),
                               cwd=harness.workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=as_from_a_prompt)
    deadline = time.monotonic() + 30
    while not harness.compose_up_calls():
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("compose up was never called")
        time.sleep(0.1)
    return process



def test_start_gives_up_at_its_timeout_while_compose_up_still_waits(harness):
    harness.write_env()
    result = harness.run("start.sh", "--timeout", "12", env={"FAKE_DOCKER_COMPOSE_SLEEP": UP_BLOCKS_SECONDS})
    assert result.returncode == 1, result
    # What it waits for, while it waits: the services and `up` itself.
    assert re.search(r"^  still waiting \(1[01]s of 12s\): langfuse not created yet; postgres not created yet; "
                     r"redis not created yet; docker compose up still running$", result.stdout, re.M), result
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: timed out after 12s waiting for langfuse, postgres, redis; "
                      "docker compose up was stopped"], result
    assert "--- postgres ---" in result.stderr and "docker compose up failed" not in result.stderr
    assert processes_of(harness) == ""


def test_no_wait_still_waits_for_up_and_no_longer_than_the_timeout(harness):
    harness.write_env()
    result = harness.run("start.sh", "--no-wait", "--timeout", "2",
                         env={"FAKE_DOCKER_COMPOSE_SLEEP": UP_BLOCKS_SECONDS})
    assert result.returncode == 1, result
    assert "error: timed out after 2s waiting for docker compose up (not healthy yet: langfuse, postgres, redis)" \
        in result.stderr, result
    assert "not waiting for health" not in result.stdout
    assert processes_of(harness) == ""


@pytest.mark.parametrize("docker", [V2, V1_ONLY], ids=["compose-v2", "compose-v1"])
def test_ctrl_c_while_up_waits_is_one_line_and_leaves_nothing_running(harness, docker):
    harness.write_env()
    process = start_in_background(harness, docker=docker)
    time.sleep(0.5)  # into the wait beside `up`
    # Ctrl-C reaches the whole foreground process group, as in a terminal.
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = finish(process, 60)
    assert process.returncode == 130, stderr
    # One line: not Compose's own failure, nor v1's "Aborting.", nor the
    # diagnostics. (A fake `docker` hit by Ctrl-C while Python itself starts
    # may print a traceback the real CLI would not: only error lines count.)
    assert [line for line in stderr.splitlines() if line.startswith("error:")] == [
        "error: interrupted; nothing more was done (run ./scripts/start.sh again to finish)"], stderr
    assert "Aborting." not in stderr and "docker compose up failed" not in stderr and "---" not in stderr
    assert processes_of(harness) == ""


def test_sigterm_ends_start_and_everything_it_started_with_exit_143(harness):
    harness.write_env()
    process = start_in_background(harness)
    time.sleep(0.5)
    # `kill PID`: the script alone gets the signal, not its children.
    os.kill(process.pid, signal.SIGTERM)
    _, stderr = finish(process, 60)
    assert process.returncode == 143, stderr
    assert [line for line in stderr.splitlines() if line.strip()] == [
        "error: terminated; nothing more was done (run ./scripts/start.sh again to finish)"], stderr
    assert processes_of(harness) == ""


# An engine that never runs healthchecks (Podman without systemd): the
# container runs, its health stays "starting", and no probe is ever logged.
_NO_HEALTHCHECKS = r'''
source "$REPO/scripts/lib/all.sh"
docker() {
    case "$1" in
        ps) echo c-postgres ;;
        inspect) echo 'postgres c-postgres running starting 0 0 {"Test":["CMD","pg_isready"],"Interval":1000000,"Timeout":1000000,"Retries":5}' ;;
        version) echo 'linux Podman Engine Conmon OCI Runtime (crun) ' ;;
    esac
}
wait_until_healthy 120 postgres || exit 1
'''


def test_a_healthcheck_the_engine_never_runs_is_named_not_waited_out(tmp_path):
    result = subprocess.run(["bash", "-c", _NO_HEALTHCHECKS], capture_output=True, text=True, timeout=100,
                            stdin=subprocess.DEVNULL,
                            env={"PATH": "/usr/bin:/bin", "REPO": str(REPO_ROOT), "NO_COLOR": "1"})
    assert result.returncode == 1, result
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result
    assert re.match(r"error: postgres's healthcheck has not run once in the 1\ds its container has run: "
                    r"Podman runs no healthchecks, so it never turns healthy \(Podman runs them from systemd "
                    r"timers: it needs systemd; see Podman in the README\)$", errors[0]), result
    assert "timed out" not in result.stderr

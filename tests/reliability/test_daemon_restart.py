"""The host's Docker daemon restarts: the stack comes back by itself.

Every service has `restart: unless-stopped`, so when dockerd stops (and its
containers with it; live-restore is off) and starts again, the containers
start again without anyone running a script, health-check.sh says so, and
the data is there.

The daemon here is started by hand (no systemd): the test stops it with
SIGTERM and starts the same command line again, detached. A finalizer makes
sure a daemon answers afterwards even when the test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support import clients
from support.engine import on_ci, remove_stale_projects, run, unavailable

from .common import SERVICES, docker_state, health_check, script_ok

# It stops the engine every other test uses: alone, after the parallel phase.
pytestmark = [pytest.mark.needs_root("stops and starts the host's dockerd"), pytest.mark.serial]

DOCKERD_LOG = Path("/tmp/transbot-reliability-dockerd.log")
STOP_SECONDS = 120
START_SECONDS = 90


def _dockerd_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def _docker_answers() -> bool:
    return run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20).returncode == 0


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def _start_dockerd(command: list[str]) -> None:
    with DOCKERD_LOG.open("ab") as log:
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         start_new_session=True, close_fds=True)


@pytest.fixture
def daemon():
    """The running dockerd's command line; afterwards, a daemon answers."""
    pids = _dockerd_pids()
    if len(pids) != 1:
        unavailable(f"expected one dockerd process started by hand, found {len(pids)}")
    if Path("/run/systemd/system").is_dir() and not on_ci():
        unavailable("dockerd is managed by systemd here; this test restarts a hand-started daemon")
    command = Path(f"/proc/{pids[0]}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    command = [part.decode() for part in command]
    yield {"pid": pids[0], "command": command}
    if not _docker_answers():
        if not _dockerd_pids():
            _start_dockerd(command)
        assert _wait_for(_docker_answers, START_SECONDS), f"dockerd did not come back; see {DOCKERD_LOG}"


def test_stack_comes_back_by_itself_after_the_daemon_restarts(make_stack, compose_v2, daemon, figures):
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    clients.write_row_and_key(stack, "daemon@example.com", "written before the daemon restart", "daemon:key", "kept")
    before = {name: started for name, _, _, started, *_ in docker_state(stack.project)["containers"]}
    # Stacks left by killed test runs would come back with the daemon too,
    # into folders that no longer exist: remove them first.
    remove_stale_projects()

    os.kill(daemon["pid"], signal.SIGTERM)
    stopped = _wait_for(lambda: not Path(f"/proc/{daemon['pid']}").exists(), STOP_SECONDS)
    assert stopped, f"dockerd did not stop within {STOP_SECONDS}s"
    _start_dockerd(daemon["command"])
    began = time.monotonic()
    assert _wait_for(_docker_answers, START_SECONDS), f"dockerd did not answer again; see {DOCKERD_LOG}"

    checked = stack.script("health-check.sh", "--wait", "--timeout", "150", timeout=240)
    back_after = time.monotonic() - began
    figures.record("daemon_restart", seconds_until_healthy=round(back_after, 1))
    print(f"\ndaemon restart: stack healthy again {back_after:.1f}s after dockerd answered")
    assert checked.returncode == 0, str(checked)
    for service in SERVICES:
        assert any(line.startswith(service) and "ok" in line for line in checked.stdout.splitlines()), str(checked)

    after = {name: started for name, _, _, started, *_ in docker_state(stack.project)["containers"]}
    assert after.keys() == before.keys(), "the containers are not the same ones"
    assert all(after[name] != before[name] for name in before), "a container was not restarted with the daemon"
    with clients.postgres(stack) as conn:
        assert "written before the daemon restart" in clients.translation_texts(conn)
    assert clients.redis_client(stack).get("daemon:key") == "kept"
    assert health_check(stack, "--json").returncode == 0

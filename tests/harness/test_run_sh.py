"""tests/run.sh: the phases it runs, as whom, and what it refuses.

tests/run.sh runs against a fake venv whose `python` records each call
(its uid and arguments) instead of running pytest, so these tests see
exactly which pytest runs the script starts, in which order and as whom.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from support.engine import REPO_ROOT
from support.stack import copy_repository

SEPARATOR = "\x1f"
FAKE_PYTHON = f"""#!/usr/bin/env bash
# Records one pytest run: uid, then the arguments separated by \\x1f.
(IFS=$'{SEPARATOR}'; printf '%s\\t%s\\n' "$(id -u)" "$*") >>"$FAKE_PYTEST_LOG"
if [[ -n "${{FAKE_PYTEST_EXIT:-}}" && "$*" == *"$FAKE_PYTEST_MATCH"* ]]; then
    exit "$FAKE_PYTEST_EXIT"
fi
if [[ -n "${{FAKE_PYTEST_SLEEP:-}}" ]]; then
    trap 'kill "$sleeper"; echo "TERM" >>"$FAKE_PYTEST_LOG"; exit 143' TERM
    sleep "$FAKE_PYTEST_SLEEP" &
    sleeper=$!
    wait "$sleeper"
fi
exit 0
"""


class Fake:
    """A repository copy and a fake venv, readable by every user (a test
    of the user switch runs part of it as nobody)."""

    def __init__(self):
        self.top = Path(tempfile.mkdtemp(prefix="transbot-run-sh-"))
        self.top.chmod(0o755)
        self.repo = copy_repository(self.top / "repo")
        self.venv = self.top / "venv"
        (self.venv / "bin").mkdir(parents=True)
        python = self.venv / "bin" / "python"
        python.write_text(FAKE_PYTHON)
        python.chmod(0o755)
        requirements = (self.repo / "tests" / "requirements.txt").read_bytes()
        (self.venv / ".requirements.sha256").write_text(hashlib.sha256(requirements).hexdigest() + "\n")
        logs = self.top / "logs"
        logs.mkdir()
        logs.chmod(0o777)
        self.log = logs / "calls.log"

    def env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("TRANSBOT_TEST_", "FAKE_PYTEST_", "PYTEST_"))}
        env.update(TRANSBOT_TEST_VENV=str(self.venv), FAKE_PYTEST_LOG=str(self.log), **extra)
        return env

    def run(self, *args: str, prefix: tuple[str, ...] = (), **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, str(self.repo / "tests" / "run.sh"), *args], env=self.env(**extra),
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def calls(self) -> list[tuple[int, list[str]]]:
        if not self.log.exists():
            return []
        found = []
        for line in self.log.read_text().splitlines():
            uid, _, args = line.partition("\t")
            found.append((int(uid), args.split(SEPARATOR)) if uid.isdigit() else (-1, [line]))
        return found


@pytest.fixture
def fake():
    made = Fake()
    yield made
    shutil.rmtree(made.top, ignore_errors=True)


ME = os.geteuid()


def test_without_arguments_a_parallel_then_a_serial_phase(fake):
    result = fake.run(TRANSBOT_TEST_WORKERS="3")
    assert result.returncode == 0, result
    assert fake.calls() == [
        (ME, ["-m", "pytest", "-n", "3", "--dist", "loadgroup", "-m", "not serial"]),
        (ME, ["-m", "pytest", "-m", "serial"]),
    ]
    assert "tests/run.sh: passed in" in result.stdout


def test_one_worker_means_no_xdist(fake):
    assert fake.run(TRANSBOT_TEST_WORKERS="1").returncode == 0
    assert fake.calls()[0] == (ME, ["-m", "pytest", "-m", "not serial"])


def test_workers_default_to_the_cpus_plus_one(fake):
    assert fake.run().returncode == 0
    assert fake.calls()[0][1][2:4] == ["-n", str(len(os.sched_getaffinity(0)) + 1)]


def test_arguments_are_one_pytest_run_with_exactly_those_arguments(fake):
    result = fake.run("-m", "unit", "-k", "reset and not v1", "-x", TRANSBOT_TEST_WORKERS="4")
    assert result.returncode == 0, result
    assert fake.calls() == [(ME, ["-m", "pytest", "-m", "unit", "-k", "reset and not v1", "-x"])]


def test_a_failed_parallel_phase_still_runs_the_serial_one_and_fails(fake):
    result = fake.run(TRANSBOT_TEST_WORKERS="2", FAKE_PYTEST_MATCH="not serial", FAKE_PYTEST_EXIT="1")
    assert result.returncode == 1, result
    assert [args[-1] for _, args in fake.calls()] == ["not serial", "serial"]
    assert "tests/run.sh: FAILED in" in result.stdout


def test_a_phase_without_tests_is_not_a_failure_but_an_error_is(fake):
    empty = fake.run(TRANSBOT_TEST_WORKERS="2", FAKE_PYTEST_MATCH="serial", FAKE_PYTEST_EXIT="5")
    assert empty.returncode == 0, empty
    assert "(no tests in this part)" in empty.stdout
    broken = fake.run(TRANSBOT_TEST_WORKERS="2", FAKE_PYTEST_MATCH="serial", FAKE_PYTEST_EXIT="4")
    assert broken.returncode == 1, broken


@pytest.mark.parametrize("workers", ["0", "two", "-1", "2 "])
def test_a_bad_worker_count_is_refused_before_anything_runs(fake, workers):
    result = fake.run(TRANSBOT_TEST_WORKERS=workers)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"tests/run.sh: TRANSBOT_TEST_WORKERS must be a number of workers "
                                     f"(1 or more), not '{workers}'")
    assert fake.calls() == []


def test_the_user_switch_is_refused_with_arguments(fake):
    result = fake.run("-m", "unit", TRANSBOT_TEST_USER="nobody")
    assert result.returncode == 2
    assert "TRANSBOT_TEST_USER works for the whole suite only" in result.stderr
    assert fake.calls() == []


def test_the_user_switch_is_refused_to_a_user_that_is_not_root(fake):
    # Root checks this through a user that is not root.
    prefix = ("runuser", "-u", "nobody", "--") if ME == 0 else ()
    result = fake.run(prefix=prefix, TRANSBOT_TEST_USER="nobody")
    assert result.returncode == 2, result
    assert "TRANSBOT_TEST_USER=nobody needs tests/run.sh to run as root" in result.stderr
    assert fake.calls() == []


@pytest.mark.needs_root("runs tests/run.sh as root, which switches to another user with runuser")
def test_as_root_with_a_user_the_user_runs_all_but_the_needs_root_tests(fake):
    nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True, check=True).stdout)
    result = fake.run(TRANSBOT_TEST_WORKERS="2", TRANSBOT_TEST_USER="nobody")
    assert result.returncode == 0, result
    calls = fake.calls()
    # First it checks that the user can run the venv's Python.
    assert calls[0] == (nobody, ["-c", ""])
    calls = calls[1:]
    # Root's part of the parallel phase runs beside the user's: either may log first.
    assert sorted(calls[:2]) == sorted([
        (nobody, ["-m", "pytest", "-n", "2", "--dist", "loadgroup", "-m", "not serial and not needs_root"]),
        (0, ["-m", "pytest", "-p", "no:cacheprovider", "-m", "needs_root and not serial"]),
    ])
    assert calls[2:] == [
        (nobody, ["-m", "pytest", "-m", "serial and not needs_root"]),
        (0, ["-m", "pytest", "-p", "no:cacheprovider", "-m", "serial and needs_root"]),
    ]


@pytest.mark.needs_root("runs tests/run.sh as root, which switches to another user with runuser")
def test_a_user_who_cannot_run_the_venv_is_told_so(fake):
    fake.venv.chmod(0o700)
    result = fake.run(TRANSBOT_TEST_USER="nobody")
    assert result.returncode == 2
    assert f"nobody cannot run {fake.venv}/bin/python" in result.stderr
    assert fake.calls() == []


def test_sigterm_reaches_the_running_phase_and_starts_nothing_more(fake):
    process = subprocess.Popen([str(fake.repo / "tests" / "run.sh")], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=fake.env(TRANSBOT_TEST_WORKERS="2", FAKE_PYTEST_SLEEP="30"))
    deadline = time.monotonic() + 20
    while not fake.calls() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # the fake has set its TERM trap
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("tests/run.sh did not pass TERM on: the phase kept running")
    assert time.monotonic() - began < 10
    assert process.returncode != 0
    calls = fake.calls()
    assert calls[0][1][-1] == "not serial"
    assert calls[1:] == [(-1, ["TERM"])], f"the serial phase started after TERM, or TERM never arrived: {calls}"

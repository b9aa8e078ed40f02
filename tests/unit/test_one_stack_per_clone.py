"""A developer keeps several clones and runs two commands at once.

Journey: a second clone with the same project name never takes over the
first one's stack: every script that touches the stack refuses, naming the
other clone's folder and the one setting that runs a second stack, and
nothing is started or stopped. Two commands in one clone run one after the
other: the second says it is waiting for the first, instead of racing it.
Two services given one port, or a port taken by something else, are
refused before anything is stopped or started, restart.sh included.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from .harness import one_line_error

STACK_SCRIPTS = {
    "start.sh": ["--no-wait"], "restart.sh": ["--no-wait"], "stop.sh": [], "logs.sh": [],
    "health-check.sh": [], "reset.sh": ["--yes"], "backup.sh": [], "restore.sh": ["somewhere", "--yes"],
    "psql.sh": [], "redis-cli.sh": [], "apply-schema.sh": [], "app-env.sh": [],
}


@pytest.mark.parametrize("script", sorted(STACK_SCRIPTS))
def test_a_stack_started_from_another_clone_is_not_touched(harness, tmp_path, script):
    other = tmp_path / "other-clone"
    other.mkdir()
    harness.write_env()
    if script == "restore.sh":
        backup = harness.workdir / "somewhere"
        backup.mkdir()
        (backup / "MANIFEST").write_text("created 2026-01-01T00:00:00Z\nsha256 00 redis.rdb\n")
        (backup / "redis.rdb").write_text("x")
    result = harness.run(script, *STACK_SCRIPTS[script], env={"FAKE_DOCKER_PROJECT_DIR": str(other)})
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert f"running from another clone, {other}" in line
    assert "COMPOSE_PROJECT_NAME" in line
    assert harness.compose_calls() == [], "another clone's stack was acted on"


def test_app_env_prints_and_writes_no_settings_for_another_clones_stack(harness, tmp_path):
    """Its passwords are this clone's: with the other clone's stack on the
    ports they would not work."""
    other = tmp_path / "other-clone"
    other.mkdir()
    harness.write_env()
    target = tmp_path / "transbot.env"
    target.write_text("KEEP=1\n")
    env = {"FAKE_DOCKER_PROJECT_DIR": str(other)}
    printed = harness.run("app-env.sh", env=env)
    written = harness.run("app-env.sh", "--write", str(target), env=env)
    for result in (printed, written):
        assert result.returncode == 1, result
        assert f"running from another clone, {other}" in one_line_error(result)
        assert result.stdout == "", result
    assert target.read_text() == "KEEP=1\n"


@pytest.mark.parametrize("daemon", ["down", "denied"])
def test_app_env_without_an_answer_from_docker_still_writes_the_settings(harness, tmp_path, daemon):
    harness.write_env()
    target = tmp_path / "transbot.env"
    result = harness.run("app-env.sh", "--write", str(target), env={"FAKE_DOCKER_DAEMON": daemon})
    assert result.returncode == 0, result
    assert "DATABASE_URL=postgresql://" in target.read_text()


def test_a_stack_whose_clone_was_deleted_is_named_as_such(harness, tmp_path):
    harness.write_env()
    result = harness.run("start.sh", "--no-wait", env={"FAKE_DOCKER_PROJECT_DIR": str(tmp_path / "gone")})
    assert result.returncode == 1, result
    assert "which no longer exists" in one_line_error(result)
    assert harness.compose_up_calls() == []


def test_this_clones_own_stack_is_its_own(harness):
    harness.write_env()
    result = harness.run("start.sh", "--no-wait", env={"FAKE_DOCKER_PROJECT_DIR": str(harness.repo)})
    assert result.returncode == 0, result
    assert len(harness.compose_up_calls()) == 1


def test_two_starts_at_once_run_one_after_the_other(harness):
    harness.write_env()
    env = harness.env(FAKE_DOCKER_COMPOSE_SLEEP="1.5")
    script = str(harness.repo / "scripts" / "start.sh")
    first = subprocess.Popen([script, "--no-wait"], env=env, cwd=harness.workdir, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    second = subprocess.run([script, "--no-wait"], env=env, cwd=harness.workdir, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60)
    first_out, first_err = first.communicate(timeout=60)
    assert first.returncode == 0, first_err
    assert second.returncode == 0, second.stderr
    assert "waiting for start.sh (pid" in second.stderr and "to finish" in second.stderr
    assert len(harness.compose_up_calls()) == 2
    overlaps = harness.log.with_name(harness.log.name + ".overlaps")
    assert not overlaps.exists(), "the two `compose up` ran at once: " + overlaps.read_text()


def test_two_first_runs_at_once_write_one_complete_env_file(harness):
    env = harness.env(**harness.free_ports_env())
    script = str(harness.repo / "scripts" / "start.sh")
    runs = [subprocess.Popen([script, "--no-wait"], env=env, cwd=harness.workdir, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert sum("Created .env.infra" in out for out, _ in outputs) == 1, outputs
    text = harness.env_file.read_text()
    assert text.count("\nLANGFUSE_SALT=") == 1
    assert "=change-me\n" not in text, "a placeholder is left"
    leftovers = [path.name for path in harness.repo.iterdir()
                 if path.name.startswith(".env.infra.") and path.name != ".env.infra.example"]
    assert leftovers == []


@pytest.mark.parametrize("script", ["start.sh", "restart.sh"])
def test_two_services_on_one_port_are_refused_before_anything_stops(harness, script):
    harness.write_env({"POSTGRES_PORT": "25441", "REDIS_PORT": "25441"})
    result = harness.run(script, "--no-wait")
    assert result.returncode == 1, result
    assert "POSTGRES_PORT and REDIS_PORT are both set to port 25441" in result.stderr
    assert result.stderr.count("error:") == 1, result
    assert harness.compose_calls() == [], "something was stopped or started"


def test_a_port_clash_with_a_service_of_an_override_file_is_refused(harness):
    harness.write_env({"REDIS_PORT": "25442"})
    (harness.repo / "docker-compose.override.yml").write_text(
        'services:\n  mailcatcher:\n    image: busybox\n    ports:\n      - "127.0.0.1:25442:1025"\n')
    result = harness.run("restart.sh", "--no-wait")
    assert result.returncode == 1, result
    assert ("REDIS_PORT and mailcatcher's ports in your compose override are both set to port 25442" in result.stderr
            or "mailcatcher's ports in your compose override and REDIS_PORT are both set to port 25442"
            in result.stderr), result
    assert harness.compose_calls() == []


def test_a_daemon_that_fails_without_a_word_gets_no_empty_brackets(harness):
    harness.write_env()
    result = harness.run("stop.sh", env={"FAKE_DOCKER_DAEMON": "silent"})
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert "the Docker daemon is not reachable; start Docker" in line
    assert "()" not in line

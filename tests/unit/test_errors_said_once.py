"""Something fails under a script: the developer reads one error line.

Journey: whatever breaks (Compose's `up`, `down`, `stop`, `logs` or
`config`, a service that is not running where a script needs it, a missing
backup folder), each of the 13 scripts prints exactly one `error:` line
saying what failed and what to do, with Compose's own words above it where
they explain, and exits with its documented code. A failure the scripts
handle is never an "internal error"; a truly unexpected one names the
script and the line, once, however deep in functions and `$(...)` it
happened.
"""

from __future__ import annotations

import subprocess

import pytest

from support.engine import REPO_ROOT

from .harness import V2


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if "error:" in line]


def assert_one_error(result, code: int, *phrases: str) -> str:
    assert result.returncode == code, result
    lines = error_lines(result)
    assert len(lines) == 1, f"expected exactly one error line:\n{result}"
    assert "internal error" not in lines[0], result
    for phrase in phrases:
        assert phrase in lines[0], result
    return lines[0]


def seed(harness, service: str) -> None:
    folder = harness.repo / "volumes" / service
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").write_text("x")


# --- Compose fails --------------------------------------------------------------

@pytest.mark.parametrize(("script", "args", "failing", "phrase"), [
    ("start.sh", ["--no-wait"], "up", "docker compose up failed"),
    ("restart.sh", ["--no-wait"], "stop", "docker compose stop failed"),
    ("restart.sh", ["redis", "--no-wait"], "up", "docker compose up failed"),
    ("stop.sh", [], "down", "docker compose down failed"),
    ("stop.sh", ["redis"], "stop", "docker compose stop failed"),
    ("logs.sh", ["--tail", "5"], "logs", "docker compose logs failed"),
    ("logs.sh", ["redis", "-f"], "logs", "docker compose logs failed"),
    ("start.sh", [], "config", "docker compose config failed"),
    ("stop.sh", ["redis"], "config", "docker compose config failed"),
])
def test_a_failing_compose_command_is_one_error_line(harness, script, args, failing, phrase):
    harness.write_env()
    result = harness.run(script, *args, env={"FAKE_DOCKER_COMPOSE_FAIL": failing})
    assert_one_error(result, 1, phrase)
    assert f"fake failure of compose {failing}" in result.output, "Compose's own message must stay visible"


def test_reset_whose_stop_fails_deletes_nothing_and_says_so_once(harness):
    harness.write_env()
    seed(harness, "redis")
    result = harness.run("reset.sh", "redis", "--yes", env={"FAKE_DOCKER_COMPOSE_FAIL": "stop"})
    assert_one_error(result, 1, "docker compose stop failed", "nothing was deleted")
    assert (harness.repo / "volumes" / "redis" / "data").exists()
    assert not [call for call in harness.compose_calls() if call.compose_command[:1] == ["run"]]


def test_reset_whose_delete_fails_is_one_error_line(harness):
    harness.write_env()
    seed(harness, "redis")
    result = harness.run("reset.sh", "redis", "--yes", env={"FAKE_DOCKER_COMPOSE_FAIL": "run"})
    assert_one_error(result, 1, "could not delete volumes/redis")


# --- Handled failures inside $(...) ------------------------------------------------

@pytest.mark.parametrize(("script", "args", "phrase"), [
    ("backup.sh", ["postgres"], "postgres is not running; start it with ./scripts/start.sh postgres"),
    ("backup.sh", ["redis"], "redis is not running; start it with ./scripts/start.sh redis"),
    ("psql.sh", ["-c", "select 1"], "postgres is not running"),
    ("redis-cli.sh", ["ping"], "redis is not running"),
    ("apply-schema.sh", [], "postgres is not running"),
])
def test_a_service_that_is_not_running_is_one_error_line(harness, script, args, phrase):
    harness.write_env()
    result = harness.run(script, *args)
    assert_one_error(result, 1, phrase)


def test_a_failed_backup_leaves_no_folder_behind(harness):
    harness.write_env()
    result = harness.run("backup.sh", "redis")
    assert_one_error(result, 1, "redis is not running")
    backups = harness.repo / "backups"
    assert not backups.exists() or list(backups.iterdir()) == []


@pytest.mark.parametrize(("script", "args", "code", "phrase"), [
    ("restore.sh", ["no-such-folder", "--yes"], 1, "no-such-folder does not exist"),
    ("app-env.sh", [], 1, ".env.infra does not exist yet"),
    ("health-check.sh", [], 1, ".env.infra does not exist yet"),
    ("init-env.sh", ["extra"], 2, "init-env.sh takes no arguments"),
])
def test_other_scripts_say_what_is_wrong_once(harness, script, args, code, phrase):
    result = harness.run(script, *args)
    assert_one_error(result, code, phrase)


def test_init_env_without_the_example_is_one_error_line(harness):
    (harness.repo / ".env.infra.example").unlink()
    result = harness.run("init-env.sh")
    assert_one_error(result, 1, ".env.infra.example is missing")
    assert not harness.env_file.exists()


def test_health_check_of_a_stack_without_containers_fails_without_internal_errors(harness):
    harness.write_env()
    result = harness.run("health-check.sh", docker=V2)
    assert result.returncode == 1, result
    assert "internal error" not in result.stderr
    assert result.stdout.count("fail") == 3, result


# --- The mechanism itself ------------------------------------------------------------

def _driver(tmp_path, body: str) -> subprocess.CompletedProcess:
    """A tiny script that sources the real library and runs BODY."""
    script = tmp_path / "driver.sh"
    script.write_text(f"#!/usr/bin/env bash\nsource {REPO_ROOT}/scripts/lib/all.sh\n{body}\n")
    script.chmod(0o755)
    return subprocess.run([str(script)], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_die_inside_command_substitution_is_reported_once_with_exit_1(tmp_path):
    result = _driver(tmp_path, 'inner() { die "the thing is broken; fix it"; }\n'
                               'outer() { local value; value="$(inner)"; echo "not reached $value"; }\n'
                               'outer')
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == ["error: the thing is broken; fix it"]
    assert "not reached" not in result.stdout


def test_usage_error_inside_a_pipeline_is_reported_once_with_exit_2(tmp_path):
    result = _driver(tmp_path, 'check() { usage_error "bad value"; }\ncheck | cat\necho "not reached"')
    assert result.returncode == 2, result
    assert result.stderr.splitlines() == ["error: bad value (see driver.sh --help)"]
    assert "not reached" not in result.stdout


def test_an_unexpected_failure_deep_inside_names_script_and_line_once(tmp_path):
    result = _driver(tmp_path, 'deep() { false; }\n'
                               'middle() { local value; value="$(deep)"; }\n'
                               'middle')
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result
    assert lines[0].startswith("error: driver.sh: internal error at line "), result

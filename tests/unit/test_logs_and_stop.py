"""A developer reads the logs, stops, restarts and checks the stack.

Journey: `./scripts/logs.sh -f langfuse` and `./scripts/logs.sh langfuse -f`
are the same request; --tail and --since reach Compose as given; a secret a
service prints is masked. `./scripts/stop.sh` takes the stack down (or stops
the named services) and works on a fresh clone without .env.infra.
restart.sh stops then starts what it is given; health-check.sh reports
services without containers as unhealthy, in JSON for tools.
"""

from __future__ import annotations

import json

import pytest

from .harness import V1_ONLY, V2


@pytest.mark.parametrize("args", [
    ["-f", "langfuse"], ["langfuse", "-f"], ["--follow", "langfuse"], ["langfuse", "--follow"],
])
def test_follow_flag_and_service_in_any_order_make_the_same_compose_call(harness, args):
    harness.write_env()
    result = harness.run("logs.sh", *args)
    assert result.returncode == 0, result
    assert harness.compose_commands() == [["logs", "--no-color", "--follow", "langfuse"]]


def test_logs_options_reach_compose(harness):
    harness.write_env()
    result = harness.run("logs.sh", "redis", "--since", "10m", "postgres", "--tail", "50", "-f")
    assert result.returncode == 0, result
    assert harness.compose_commands() == [
        ["logs", "--no-color", "--follow", "--tail", "50", "--since", "10m", "redis", "postgres"]]


@pytest.mark.parametrize("args", [["--tail=3", "--since=10m"], ["--tail", "3", "--since", "10m"]])
def test_options_take_their_value_with_or_without_an_equals_sign(harness, args):
    harness.write_env()
    result = harness.run("logs.sh", *args, "redis")
    assert result.returncode == 0, result
    assert harness.compose_commands() == [["logs", "--no-color", "--tail", "3", "--since", "10m", "redis"]]


def test_a_flag_given_a_value_is_a_usage_error(harness):
    harness.write_env()
    result = harness.run("logs.sh", "--follow=yes")
    assert result.returncode == 2, result
    assert "--follow takes no value" in result.stderr
    assert harness.calls() == []


def test_logs_pass_no_colour_codes_into_a_pipe_with_compose_v1(harness):
    harness.write_env()
    result = harness.run("logs.sh", "redis", docker=V1_ONLY)
    assert result.returncode == 0, result
    assert harness.compose_commands() == [["logs", "--no-color", "redis"]]


def test_logs_without_arguments_shows_the_whole_stack(harness):
    harness.write_env()
    result = harness.run("logs.sh")
    assert result.returncode == 0, result
    assert harness.compose_commands() == [["logs", "--no-color"]]


def test_logs_works_on_a_fresh_clone_without_env_file(harness):
    result = harness.run("logs.sh", "redis")
    assert result.returncode == 0, result
    assert harness.compose_commands() == [["logs", "--no-color", "redis"]]
    assert not harness.env_file.exists()


def test_since_with_compose_v1_is_refused_as_a_usage_error(harness):
    harness.write_env()
    result = harness.run("logs.sh", "--since", "10m", docker=V1_ONLY)
    assert result.returncode == 2, result
    assert "--since needs Compose v2" in result.stderr
    assert harness.compose_calls() == []


def test_secrets_in_service_logs_are_masked(harness, tmp_path):
    harness.write_env()
    secrets = harness.secrets()
    output = tmp_path / "compose-logs.txt"
    output.write_text(
        f"langfuse-1  | connecting to postgresql://langfuse:{secrets['LANGFUSE_DB_PASSWORD']}@postgres:5432/langfuse\n"
        f"redis-1     | AUTH {secrets['REDIS_PASSWORD']} ok\n"
    )
    result = harness.run("logs.sh", env={"FAKE_DOCKER_COMPOSE_OUTPUT": str(output)})  # run() checks for leaks
    assert result.returncode == 0, result
    assert "postgresql://langfuse:****@postgres:5432/langfuse" in result.stdout
    assert "AUTH **** ok" in result.stdout


def test_secrets_in_a_failed_compose_up_are_masked(harness, tmp_path):
    harness.write_env()
    secrets = harness.secrets()
    output = tmp_path / "compose-up.txt"
    output.write_text(f"Error response from daemon: invalid env POSTGRES_PASSWORD={secrets['POSTGRES_PASSWORD']}\n")
    result = harness.run("start.sh", "--no-wait",
                         env={"FAKE_DOCKER_COMPOSE_OUTPUT": str(output), "FAKE_DOCKER_COMPOSE_STATUS": "1"})
    assert result.returncode == 1, result
    assert "POSTGRES_PASSWORD=****" in result.stdout
    assert "docker compose up failed" in result.stderr


def test_stop_without_services_takes_the_stack_down(harness):
    harness.write_env()
    result = harness.run("stop.sh")
    assert result.returncode == 0, result
    assert harness.compose_commands() == [["down", "--remove-orphans"]]
    assert "data in ./volumes is kept" in result.stdout


def test_stop_named_services_stops_only_them(harness):
    harness.write_env()
    result = harness.run("stop.sh", "redis", "langfuse")
    assert result.returncode == 0, result
    assert harness.compose_commands() == [["stop", "redis", "langfuse"]]


def test_stop_works_on_a_fresh_clone_and_creates_nothing(harness):
    result = harness.run("stop.sh", docker=V2)
    assert result.returncode == 0, result
    assert harness.compose_commands() == [["down", "--remove-orphans"]]
    assert not harness.env_file.exists()
    [down] = harness.compose_calls()
    assert "--env-file" not in down.compose_options


def test_stop_works_with_a_placeholder_env_file(harness):
    """stop.sh must work even when .env.infra is not usable for start."""
    harness.write_env({"REDIS_PASSWORD": "change-me", "LANGFUSE_SALT": None})
    result = harness.run("stop.sh")
    assert result.returncode == 0, result
    assert harness.compose_commands() == [["down", "--remove-orphans"]]


def test_restart_stops_then_starts_the_named_services(harness):
    harness.write_env()
    result = harness.run("restart.sh", "redis", "--no-wait")
    assert result.returncode == 0, result
    assert harness.compose_commands() == [["stop", "redis"], ["up", "-d", "redis"]]


def test_health_check_reports_missing_containers_as_unhealthy_json(harness):
    harness.write_env()
    result = harness.run("health-check.sh", "--json", "redis", "postgres")
    assert result.returncode == 1, result
    report = json.loads(result.stdout)
    assert report["healthy"] is False
    assert [service["service"] for service in report["services"]] == ["redis", "postgres"]
    assert all(service["state"] == "missing" and service["probe"] == "fail" for service in report["services"])
    assert harness.compose_up_calls() == []

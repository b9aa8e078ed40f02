"""A developer runs a script on a machine whose Docker is not quite right.

Journey: the scripts find Compose by themselves (the v2 plugin first, else
docker-compose v1; COMPOSE_COMMAND overrides the choice) and run it from the
repository root with the project name, wherever they are called from. When
Docker is missing, Compose is missing, the daemon is down or the socket
refuses the user, the script stops with exit 1 and a message that names
that problem and its fix, and never tries to start anything.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from support.fake_docker import COMPOSE_V1_VERSION, COMPOSE_V2_VERSION

from .harness import (
    BOTH, DAEMON_DENIED, DAEMON_DOWN, NO_COMPOSE, NO_DOCKER, SCRIPTS, V1_ONLY, V2, Docker, one_line_error,
)

# Arguments that make each script reach its Docker checks (and no further
# than `compose up` with the fake: --no-wait, --yes on empty volumes).
REACHES_DOCKER = {
    "start.sh": ["--no-wait"],
    "stop.sh": [],
    "restart.sh": ["--no-wait"],
    "logs.sh": ["--tail", "5"],
    "reset.sh": ["--yes"],
    "health-check.sh": [],
}


def run_with_valid_env(harness, script: str, docker: Docker, **env: str):
    harness.write_env()
    return harness.run(script, *REACHES_DOCKER[script], docker=docker, env=env)


@pytest.mark.parametrize("script", ["start.sh", "stop.sh", "restart.sh", "logs.sh"])
def test_compose_v2_is_preferred_when_both_are_installed(harness, script):
    result = run_with_valid_env(harness, script, BOTH)
    assert result.returncode == 0, result
    calls = harness.compose_calls()
    assert calls, "no compose subcommand was run"
    assert all(call.program == "docker" and call.args[0] == "compose" for call in calls), calls
    assert all(call.program != "docker-compose" for call in harness.calls())


@pytest.mark.parametrize("script", ["start.sh", "stop.sh", "restart.sh", "logs.sh"])
def test_compose_v1_is_used_when_the_plugin_is_missing(harness, script):
    result = run_with_valid_env(harness, script, V1_ONLY)
    assert result.returncode == 0, result
    calls = harness.compose_calls()
    assert calls, "no compose subcommand was run"
    assert all(call.program == "docker-compose" for call in calls), calls


def test_start_reports_the_compose_version_it_uses(harness):
    harness.write_env()
    v2 = harness.run("start.sh", "--no-wait", docker=V2)
    assert f"Compose {COMPOSE_V2_VERSION}" in v2.stdout, v2
    v1 = harness.run("start.sh", "--no-wait", docker=V1_ONLY)
    assert f"Compose {COMPOSE_V1_VERSION}" in v1.stdout, v1


def test_compose_command_forces_compose_v1(harness):
    result = run_with_valid_env(harness, "start.sh", BOTH, COMPOSE_COMMAND="docker-compose")
    assert result.returncode == 0, result
    [up] = harness.compose_up_calls()
    assert up.program == "docker-compose"
    assert not any(call.program == "docker" and call.args[:1] == ("compose",) for call in harness.calls())


def test_a_check_that_fails_before_the_answers_asked_ahead_says_only_its_own_message(harness):
    # start.sh asks the engine while it looks for Compose; Compose is
    # missing, so it exits first, and the engine's late answer must not
    # write anything (its folder is gone with the script).
    result = run_with_valid_env(harness, "start.sh", NO_COMPOSE, FAKE_DOCKER_VERSION_SLEEP="0.5")
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "Docker Compose is not installed" in result.stderr, result


def test_compose_command_that_does_not_run_compose_is_named(harness):
    result = run_with_valid_env(harness, "stop.sh", V2, COMPOSE_COMMAND="no-such-compose")
    assert result.returncode == 1, result
    assert "COMPOSE_COMMAND='no-such-compose' does not run Compose" in result.stderr
    assert "unset it" in result.stderr
    assert harness.compose_calls() == []


def test_compose_runs_from_the_repository_root_with_the_project_and_env_file(harness):
    result = run_with_valid_env(harness, "start.sh", V2, TRANSBOT_FAST_PATH="off")
    assert result.returncode == 0, result
    [up] = harness.compose_up_calls()
    assert up.cwd == str(harness.repo)
    assert up.compose_options == ["--project-name", "transbot", "--env-file", str(harness.env_file)]
    assert up.compose_command == ["up", "-d"]


def test_compose_project_name_is_taken_from_the_environment(harness):
    result = run_with_valid_env(harness, "stop.sh", V2, COMPOSE_PROJECT_NAME="mybot")
    assert result.returncode == 0, result
    [down] = harness.compose_calls()
    assert down.compose_options[:2] == ["--project-name", "mybot"]
    assert down.compose_command == ["down", "--remove-orphans"]


# The scripts that run Compose; the others only ask the engine.
COMPOSE_SCRIPTS = tuple(script for script in SCRIPTS if script != "health-check.sh")


@pytest.mark.parametrize("script", COMPOSE_SCRIPTS)
def test_no_compose_at_all_exits_1_with_an_install_hint(harness, script):
    # The daemon is down too: Compose is checked first, so its message is
    # the one (start.sh asks the engine ahead, but reports in this order).
    result = run_with_valid_env(harness, script, replace(NO_COMPOSE, daemon="down"))
    assert result.returncode == 1, result
    assert "Docker Compose is not installed" in result.stderr
    assert "docker-compose-plugin" in result.stderr
    assert "https://docs.docker.com/compose/install/" in result.stderr
    assert "daemon" not in result.stderr, result
    assert harness.compose_calls() == []


@pytest.mark.parametrize("script, args", [
    ("health-check.sh", []), ("psql.sh", ["-c", "SELECT 1"]), ("redis-cli.sh", ["ping"]),
    ("backup.sh", []), ("apply-schema.sh", []),
])
def test_scripts_that_only_ask_the_engine_neither_need_nor_ask_compose(harness, script, args):
    """They use docker ps, inspect and exec: without Compose they still run,
    and with it they spare the time of asking its version. The engine is
    still asked (the project's containers, or its version), so a daemon
    that does not answer is named."""
    harness.write_env()
    result = harness.run(script, *args, docker=NO_COMPOSE)
    assert "Compose" not in result.stderr, result
    assert not any(call.program == "docker-compose" or call.args[:1] == ("compose",)
                   for call in harness.calls()), harness.calls()
    assert any(call.args[:1] in (("version",), ("ps",)) for call in harness.calls()), "the daemon was not checked"


@pytest.mark.parametrize("script", SCRIPTS)
def test_docker_not_installed_exits_1_naming_it(harness, script):
    result = run_with_valid_env(harness, script, NO_DOCKER)
    assert result.returncode == 1, result
    assert "docker is not installed" in result.stderr
    assert "https://docs.docker.com/get-docker/" in result.stderr
    assert "internal error" not in result.stderr
    assert harness.calls() == []


def test_docker_not_installed_is_named_even_with_compose_command_set(harness):
    """Only docker-compose on PATH, COMPOSE_COMMAND=docker-compose: the docker
    CLI is still missing, and the message must say so, not blame a daemon."""
    no_docker_cli = Docker(installed=False, plugin=False, compose_v1=True)
    result = run_with_valid_env(harness, "stop.sh", no_docker_cli, COMPOSE_COMMAND="docker-compose")
    assert result.returncode == 1, result
    assert "docker is not installed" in result.stderr, result
    assert harness.compose_calls() == []


@pytest.mark.parametrize("script", SCRIPTS)
def test_daemon_down_exits_1_with_a_start_docker_hint(harness, script):
    result = run_with_valid_env(harness, script, DAEMON_DOWN)
    assert result.returncode == 1, result
    assert "the Docker daemon is not reachable" in result.stderr
    assert "Cannot connect to the Docker daemon" in result.stderr
    assert "systemctl start docker" in result.stderr
    assert "docker group" not in result.stderr
    assert harness.compose_calls() == []


@pytest.mark.parametrize("script", SCRIPTS)
def test_socket_permission_denied_exits_1_with_the_docker_group_hint(harness, script):
    result = run_with_valid_env(harness, script, DAEMON_DENIED)
    assert result.returncode == 1, result
    assert "permission denied on the Docker socket" in result.stderr
    assert "docker group" in result.stderr and "usermod -aG docker" in result.stderr
    assert "not reachable" not in result.stderr
    assert harness.compose_calls() == []


@pytest.mark.parametrize("docker", [NO_DOCKER, NO_COMPOSE, DAEMON_DOWN, DAEMON_DENIED],
                         ids=["no-docker", "no-compose", "daemon-down", "denied"])
def test_docker_problems_are_one_error_line_without_internal_errors(harness, docker):
    result = run_with_valid_env(harness, "start.sh", docker)
    assert result.returncode == 1, result
    assert result.stderr.count("error:") == 1, result
    assert "internal error" not in result.stderr
    assert harness.compose_up_calls() == []


# --- Docker pointed elsewhere: a context, DOCKER_HOST -------------------------------


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_docker_context_that_does_not_exist_is_named_with_its_fix(harness, script):
    result = run_with_valid_env(harness, script, V2, DOCKER_CONTEXT="nosuchctx")
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert "the Docker context 'nosuchctx' named by DOCKER_CONTEXT does not exist" in line, line
    assert "unset DOCKER_CONTEXT" in line and "docker context ls" in line, line
    assert "start Docker" not in line and "systemctl" not in line, line
    assert harness.compose_calls() == []


def test_a_current_context_chosen_with_docker_context_use_that_is_gone_is_named(harness, tmp_path):
    """`docker context use gonectx`, then the context was removed: docker
    says the same as for DOCKER_CONTEXT, and the fix is another `use`."""
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text('{"currentContext": "gonectx"}')
    result = run_with_valid_env(harness, "start.sh", V2, DOCKER_CONFIG=str(config))
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert "the current Docker context 'gonectx' does not exist" in line, line
    assert "docker context use default" in line, line


def test_a_docker_context_that_exists_is_used(harness):
    result = run_with_valid_env(harness, "start.sh", V2, DOCKER_CONTEXT="remote", FAKE_DOCKER_CONTEXTS="remote")
    assert result.returncode == 0, result
    assert len(harness.compose_up_calls()) == 1


@pytest.mark.parametrize("script", ["start.sh", "health-check.sh", "stop.sh"])
def test_an_unreachable_docker_host_is_named_with_its_fix(harness, script):
    result = run_with_valid_env(harness, script, DAEMON_DOWN, DOCKER_HOST="tcp://10.0.0.9:2375")
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert "the Docker daemon at DOCKER_HOST=tcp://10.0.0.9:2375 is not reachable" in line, line
    assert "(Cannot connect to the Docker daemon at tcp://10.0.0.9:2375. Is the docker daemon running?)" in line
    assert "unset DOCKER_HOST" in line and "systemctl" not in line, line


def test_an_unreachable_daemon_of_an_existing_context_is_named_with_its_fix(harness):
    result = run_with_valid_env(harness, "start.sh", DAEMON_DOWN, DOCKER_CONTEXT="remote",
                                FAKE_DOCKER_CONTEXTS="remote")
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert "the Docker daemon of the context 'remote' named by DOCKER_CONTEXT is not reachable" in line, line
    assert "unset DOCKER_CONTEXT" in line, line

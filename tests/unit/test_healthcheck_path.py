"""Which healthchecks a developer's stack gets, decided once per command.

Journey: on Docker Engine 25+ (API 1.44) with Compose 2.24+ (2.x or 5.x) the
scripts add services/compose/fast-healthchecks.yml right after
docker-compose.yml, before the user's own override, so containers are
probed often while starting and rarely at rest. Every other engine and
Compose (Engine 20.10-24, Podman's older API, Compose 2.20, Compose v1) runs
the compose file exactly as before, with no -f at all, so Compose finds the
override and COMPOSE_FILE itself. TRANSBOT_FAST_PATH=off chooses that
portable path everywhere; any other value is refused, naming it.
"""

from __future__ import annotations

import pytest

from .harness import BOTH, V2

FAST = ["-f", "docker-compose.yml", "-f", "services/compose/fast-healthchecks.yml"]

APIS = ["1.41", "1.43", "1.44", "1.52"]
COMPOSES = ["1.29.2", "2.20.3", "2.24.0", "v2.40.3", "5.0.1", "2.29.7-desktop.1"]


def fast_expected(api: str, compose: str) -> bool:
    def numbers(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.lstrip("v").split("-")[0].split("."))
    return numbers(api) >= (1, 44) and numbers(compose) >= (2, 24)


def start_with(harness, api: str, compose: str, **env: str):
    harness.write_env()
    env = {"FAKE_DOCKER_API_VERSION": api, **env}
    if compose.startswith("1."):
        env.update(COMPOSE_COMMAND="docker-compose", FAKE_DOCKER_COMPOSE_V1_VERSION=compose)
        docker = BOTH
    else:
        env["FAKE_DOCKER_COMPOSE_VERSION"] = compose
        docker = V2
    return harness.run("start.sh", "--no-wait", docker=docker, env=env)


def files_of(call) -> list[str]:
    options = call.compose_options
    return [word for index, word in enumerate(options)
            if word == "-f" or (index > 0 and options[index - 1] == "-f")]


@pytest.mark.parametrize("compose", COMPOSES)
@pytest.mark.parametrize("api", APIS)
def test_fast_healthchecks_exactly_where_engine_and_compose_support_them(harness, api, compose):
    result = start_with(harness, api, compose)
    assert result.returncode == 0, result
    [up] = harness.compose_up_calls()
    if fast_expected(api, compose):
        assert files_of(up) == FAST, up
        assert "fast healthchecks" in result.stdout
    else:
        assert files_of(up) == [], up
        assert "portable healthchecks" in result.stdout


def test_every_compose_call_of_a_command_uses_the_same_files(harness):
    harness.write_env()
    result = harness.run("restart.sh", "--no-wait", "redis", docker=V2)
    assert result.returncode == 0, result
    calls = [call for call in harness.compose_calls() if call.compose_command[:1] in (["stop"], ["up"])]
    assert [call.compose_command[0] for call in calls] == ["stop", "up"]
    assert all(files_of(call) == FAST for call in calls), calls


def test_the_users_override_file_comes_after_the_fast_overlay(harness):
    (harness.repo / "docker-compose.override.yml").write_text("services:\n  redis:\n    labels: [mine]\n")
    result = start_with(harness, "1.47", "2.40.3")
    assert result.returncode == 0, result
    [up] = harness.compose_up_calls()
    assert files_of(up) == FAST + ["-f", "docker-compose.override.yml"]


def test_compose_file_keeps_its_order_with_the_overlay_after_docker_compose_yml(harness):
    (harness.repo / "extra.yml").write_text("services:\n  mail:\n    image: busybox\n")
    (harness.repo / "docker-compose.override.yml").write_text("services: {}\n")
    result = start_with(harness, "1.47", "5.0.1", COMPOSE_FILE="docker-compose.yml:extra.yml")
    assert result.returncode == 0, result
    [up] = harness.compose_up_calls()
    assert files_of(up) == FAST + ["-f", "extra.yml"], "the override file is not read when COMPOSE_FILE is set"


def test_compose_file_without_docker_compose_yml_gets_the_portable_path(harness):
    (harness.repo / "mine.yml").write_text((harness.repo / "docker-compose.yml").read_text())
    result = start_with(harness, "1.47", "2.40.3", COMPOSE_FILE="mine.yml")
    assert result.returncode == 0, result
    [up] = harness.compose_up_calls()
    assert files_of(up) == []


def test_fast_path_off_is_the_portable_path_on_a_modern_engine(harness):
    result = start_with(harness, "1.52", "5.0.1", TRANSBOT_FAST_PATH="off")
    assert result.returncode == 0, result
    [up] = harness.compose_up_calls()
    assert files_of(up) == []
    assert "portable healthchecks" in result.stdout


def test_fast_path_off_can_live_in_the_env_file(harness):
    harness.write_env({"TRANSBOT_FAST_PATH": "off"})
    result = harness.run("start.sh", "--no-wait", docker=V2, env={"FAKE_DOCKER_API_VERSION": "1.52"})
    assert result.returncode == 0, result
    [up] = harness.compose_up_calls()
    assert files_of(up) == []


def test_an_unknown_fast_path_setting_is_refused_naming_it(harness):
    result = start_with(harness, "1.47", "2.40.3", TRANSBOT_FAST_PATH="sometimes")
    assert result.returncode == 1, result
    assert "TRANSBOT_FAST_PATH must be auto or off, not 'sometimes'" in result.stderr
    assert result.stderr.count("error:") == 1, result
    assert harness.compose_up_calls() == []

"""A developer changes docker-compose.override.yml, against the fake engine.

Journey: a service removed from the override still has its container:
start.sh names it and how to remove it, health-check.sh leaves it out (in
one line), stop.sh removes it with the stack and is never "ok" while a
container or the network is left. An override that moves a built-in port
(`ports: !override`), or a stack started with another port in the shell:
app-env.sh prints the ports in use. A service of the user's own whose
healthcheck fails: health-check.sh and start.sh show what its probe said.
The real engine runs the same journey in tests/e2e/test_override_changes.py.
"""

from __future__ import annotations

import json
import socket
import urllib.parse
from contextlib import contextmanager

import pytest

from support.engine import free_port

from .harness import V1_ONLY, V2, parse_env

MAILER = "services:\n  mailer:\n    image: mailer:1\n"
PROJECT_NETWORK = {"name": "transbot_default", "project": "transbot"}


def running(service: str, **fields) -> dict:
    return {"service": service, "state": "running", "health": "healthy", **fields}


def checked_services(result) -> list[str]:
    return [entry["service"] for entry in json.loads(result.stdout)["services"]]


# --- A service removed from the override ------------------------------------------


@pytest.mark.parametrize("docker", [V2, V1_ONLY], ids=["compose-v2", "compose-v1"])
def test_stop_removes_the_container_of_a_service_removed_from_the_override_and_names_it(harness, docker):
    harness.write_env()
    env = harness.set_engine([running("mailer", health=None), running("redis")], [PROJECT_NETWORK])
    result = harness.run("stop.sh", docker=docker, env=env)
    assert result.returncode == 0, result
    assert "removed the containers of mailer, no longer in the configuration" in result.stdout
    assert harness.engine() == {"containers": [], "networks": []}


@pytest.mark.parametrize("docker", [V2, V1_ONLY], ids=["compose-v2", "compose-v1"])
def test_stop_is_not_ok_while_a_container_of_no_project_holds_the_network(harness, docker):
    harness.write_env()
    env = harness.set_engine([running("redis")], [{**PROJECT_NETWORK, "foreign": ["debug-shell"]}])
    result = harness.run("stop.sh", docker=docker, env=env)
    assert result.returncode == 1, result
    assert "ok stopped" not in result.stdout
    assert "the stack is not fully stopped" in result.stderr
    assert "network transbot_default is still in use by debug-shell" in result.stderr
    assert "docker network disconnect transbot_default debug-shell" in result.stderr


def test_stop_is_not_ok_while_a_container_is_left(harness):
    harness.write_env()
    env = harness.set_engine([running("redis"), running("mailer")])
    result = harness.run("stop.sh", env={**env, "FAKE_DOCKER_COMPOSE_FAIL": "down"})
    assert result.returncode == 1, result
    assert "ok stopped" not in result.stdout
    assert "container transbot-redis-1 (service redis) is still there" in result.stderr
    assert "docker rm -f transbot-mailer-1" in result.stderr


def test_start_names_the_container_of_a_removed_service_and_leaves_it_alone(harness):
    harness.write_env()
    env = harness.set_engine([running("mailer", health=None)])
    result = harness.run("start.sh", "--no-wait", env=env)
    assert result.returncode == 0, result
    [warning] = [line for line in result.stderr.splitlines() if "mailer" in line]
    assert "no longer in the configuration" in warning and "mailer (transbot-mailer-1)" in warning
    assert "./scripts/stop.sh" in warning and "docker rm -f transbot-mailer-1" in warning
    assert [container["service"] for container in harness.engine()["containers"]] == ["mailer"]
    assert harness.compose_commands() == [["up", "-d"]]


@contextmanager
def held_port():
    """A free port, held on 127.0.0.1 as docker-proxy holds a published one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_start_refuses_the_port_a_removed_services_container_still_holds(harness):
    # `up` leaves mailer's container running: its port stays taken.
    harness.write_env()
    with held_port() as port:
        env = harness.set_engine([running("mailer", health=None, ports=[f"127.0.0.1:{port}:6379"])])
        result = harness.run("start.sh", "--no-wait", env={**env, "REDIS_PORT": str(port)})
    assert result.returncode == 1, result
    assert f"port {port} for redis is already in use" in result.stderr
    assert harness.compose_up_calls() == []


def test_start_takes_the_port_its_own_running_container_holds(harness):
    harness.write_env()
    with held_port() as port:
        env = harness.set_engine([running("redis", ports=[f"127.0.0.1:{port}:6379"])])
        result = harness.run("start.sh", "--no-wait", env={**env, "REDIS_PORT": str(port)})
    assert result.returncode == 0, result
    assert len(harness.compose_up_calls()) == 1


def test_health_check_leaves_out_a_removed_service_naming_it_in_one_line(harness):
    harness.write_env()
    env = harness.set_engine([{"service": "mailer", "state": "exited"}])
    assert harness.run("start.sh", "--no-wait", env=env).returncode == 0
    result = harness.run("health-check.sh", "--json", env=env)
    assert checked_services(result) == ["postgres", "langfuse", "redis"], result
    [note] = [line for line in result.stderr.splitlines() if "mailer" in line]
    assert "not checked, no longer in the configuration: mailer (transbot-mailer-1)" in note
    assert "./scripts/stop.sh" in note


def test_health_check_checks_every_container_once_the_configuration_changed(harness):
    harness.write_env()
    env = harness.set_engine([{"service": "mailer", "state": "exited"}])
    assert harness.run("start.sh", "--no-wait", env=env).returncode == 0
    # mailer is back in the override: health-check.sh cannot know that what
    # start.sh remembered is still true, so it judges every container.
    (harness.repo / "docker-compose.override.yml").write_text(MAILER)
    result = harness.run("health-check.sh", "--json", env=env)
    assert checked_services(result) == ["postgres", "langfuse", "redis", "mailer"], result
    assert "mailer" not in result.stderr


def test_a_refused_start_remembers_nothing(harness):
    port = str(free_port())
    harness.write_env({"REDIS_PORT": port, "POSTGRES_PORT": port})
    result = harness.run("start.sh", "--no-wait")
    assert result.returncode == 1 and "both set to port" in result.stderr, result
    assert not (harness.repo / ".transbot.services").exists()


# --- Ports moved by an override, or by the shell ------------------------------------

MOVED_PORTS = """\
services:
  langfuse:
    ports: !override
      - "127.0.0.1:41300:3000"
  redis:
    ports: !override ["127.0.0.1:41379:6379"]
"""


def app_settings(harness, env=None) -> dict[str, str]:
    """What app-env.sh writes (written, not printed: the harness fails a run
    that prints a secret)."""
    target = harness.workdir / ".env"
    result = harness.run("app-env.sh", "--write", str(target), env=env)
    assert result.returncode == 0, result
    return parse_env(target.read_text())


def test_app_env_prints_the_ports_an_override_moved_while_the_stack_is_down(harness):
    written = parse_env(harness.write_env().decode())
    (harness.repo / "docker-compose.override.yml").write_text(MOVED_PORTS)
    settings = app_settings(harness)
    assert settings["LANGFUSE_HOST"] == "http://localhost:41300"
    assert urllib.parse.urlsplit(settings["REDIS_URL"]).port == 41379
    assert urllib.parse.urlsplit(settings["DATABASE_URL"]).port == int(written["POSTGRES_PORT"])


def test_app_env_prints_the_ports_the_running_stack_publishes(harness):
    harness.write_env()
    env = harness.set_engine([running("postgres", ports=["127.0.0.1:45432:5432"]),
                              running("langfuse", ports=["127.0.0.1:43000:3000"]),
                              # Two ports, neither .env.infra's: the lower one.
                              running("redis", ports=["127.0.0.1:46380:6379", "[::]:46380:6379",
                                                      "127.0.0.1:46379:6379"])])
    settings = app_settings(harness, env)
    assert urllib.parse.urlsplit(settings["DATABASE_URL"]).port == 45432
    assert settings["LANGFUSE_HOST"] == "http://localhost:43000"
    assert urllib.parse.urlsplit(settings["REDIS_URL"]).port == 46379
    assert harness.config_calls() == [], "the engine answered: no need to ask Compose"


def test_compose_v1_refuses_an_override_tag_and_start_says_so(harness):
    harness.write_env()
    (harness.repo / "docker-compose.override.yml").write_text(MOVED_PORTS)
    result = harness.run("start.sh", "--no-wait", docker=V1_ONLY)
    assert result.returncode == 1, result
    assert "could not determine a constructor for the tag '!override'" in result.stderr
    assert harness.compose_up_calls() == []


# --- A failing healthcheck of the user's own ------------------------------------------

PROBE_LOG = ["smtp: starting\n", "smtp: connection refused on :25\n"]


def test_health_check_shows_what_the_failing_probe_said(harness):
    harness.write_env()
    (harness.repo / "docker-compose.override.yml").write_text(MAILER)
    env = harness.set_engine([running("mailer", health="unhealthy", health_log=PROBE_LOG)])
    result = harness.run("health-check.sh", "mailer", env=env)
    assert result.returncode == 1, result
    assert "Docker healthcheck fails: smtp: connection refused on :25" in result.stdout


def test_start_shows_the_last_probe_of_a_service_that_gave_up(harness):
    harness.write_env()
    (harness.repo / "docker-compose.override.yml").write_text(MAILER)
    env = harness.set_engine([{"service": "mailer", "state": "exited", "health": "unhealthy",
                               "health_log": PROBE_LOG, "logs": "mailer: giving up\n"}])
    result = harness.run("start.sh", "mailer", env=env)
    assert result.returncode == 1, result
    assert "last probe:   smtp: connection refused on :25" in result.stderr
    assert "mailer: giving up" in result.stderr

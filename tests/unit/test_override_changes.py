"""A developer changes docker-compose.override.yml, against the fake engine.

Journey: an override that moves a built-in port (`ports: !override`), or
a stack started with another port in the shell: app-env.sh prints the
ports in use. A service of the user's own whose healthcheck fails:
health-check.sh and start.sh show what its probe said.
"""

from __future__ import annotations

import urllib.parse

from .harness import V1_ONLY, parse_env

MAILER = "services:\n  mailer:\n    image: mailer:1\n"


def running(service: str, **fields) -> dict:
    return {"service": service, "state": "running", "health": "healthy", **fields}


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

"""A developer changes docker-compose.override.yml, against the fake engine.

Journey: a service of the user's own whose healthcheck fails:
health-check.sh and start.sh show what its probe said.
"""

from __future__ import annotations

MAILER = "services:\n  mailer:\n    image: mailer:1\n"


def running(service: str, **fields) -> dict:
    return {"service": service, "state": "running", "health": "healthy", **fields}


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

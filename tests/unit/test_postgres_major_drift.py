"""A developer points POSTGRES_IMAGE at a new PostgreSQL major while
volumes/postgres still holds the old one's data.

Journey: .env.infra says postgres:17-alpine, the data folder says 15.
`./scripts/start.sh` (and restart.sh) refuse before Compose starts or
creates anything: one error line naming both majors and the upgrade
command, exit 1, .env.infra untouched. An image that is not here yet
(Compose would pull it) is not guessed at; the same major starts.
"""

from __future__ import annotations

import pytest

from unit.harness import one_line_error

PG17 = {"name": "postgres:17-alpine", "env": ["PATH=/usr/local/bin:/usr/bin", "PG_MAJOR=17", "PG_VERSION=17.6"]}
PG15 = {"name": "postgres:15-alpine", "env": ["PG_MAJOR=15", "PG_VERSION=15.14"]}


def initialised_by(harness, major: str) -> None:
    folder = harness.repo / "volumes" / "postgres"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "PG_VERSION").write_text(f"{major}\n")


@pytest.mark.parametrize("script", ["start.sh", "restart.sh"])
def test_a_newer_major_on_old_data_is_refused_before_anything_starts(harness, script):
    written = harness.write_env({"POSTGRES_IMAGE": "postgres:17-alpine"})
    initialised_by(harness, "15")
    engine = harness.set_engine(images=[PG17, PG15])
    result = harness.run(script, "--no-wait", env=engine)
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert "PostgreSQL 15" in line and "PostgreSQL 17" in line, line
    assert "./scripts/upgrade-postgres.sh postgres:17-alpine" in line, line
    assert harness.compose_up_calls() == []
    assert not [call for call in harness.compose_commands() if "stop" in call], harness.compose_commands()
    assert harness.env_file.read_bytes() == written


def test_an_older_major_on_newer_data_is_refused_with_the_way_back(harness):
    harness.write_env({"POSTGRES_IMAGE": "postgres:15-alpine"})
    initialised_by(harness, "17")
    result = harness.run("start.sh", "--no-wait", env=harness.set_engine(images=[PG17, PG15]))
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert "PostgreSQL 17 data" in line and "--revert" in line, line
    assert harness.compose_up_calls() == []


def test_the_same_major_starts(harness):
    harness.write_env({"POSTGRES_IMAGE": "postgres:17-alpine"})
    initialised_by(harness, "17")
    result = harness.run("start.sh", "--no-wait", env=harness.set_engine(images=[PG17]))
    assert "PostgreSQL" not in result.stderr, result
    assert harness.compose_up_calls() != []


def test_an_image_not_here_yet_is_left_to_the_server(harness):
    harness.write_env({"POSTGRES_IMAGE": "postgres:17-alpine"})
    initialised_by(harness, "15")
    result = harness.run("start.sh", "--no-wait", env=harness.set_engine(images=[PG15]))
    assert "PostgreSQL 15" not in result.stderr, result
    assert harness.compose_up_calls() != []


def test_fake_image_inspect_is_as_strict_as_the_real_one(harness):
    """docker image inspect of a missing image: exit 1, the daemon's error."""
    import subprocess
    env = harness.env(**harness.set_engine(images=[PG15]))
    missing = subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config.Env}}", "postgres:17-alpine"],
                             capture_output=True, text=True, env=env)
    assert missing.returncode == 1
    assert missing.stderr == "Error response from daemon: No such image: postgres:17-alpine\n"
    present = subprocess.run(["docker", "image", "inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}",
                              "--", "postgres:15-alpine"], capture_output=True, text=True, env=env)
    assert present.returncode == 0 and present.stdout == "PG_MAJOR=15\nPG_VERSION=15.14\n\n", present

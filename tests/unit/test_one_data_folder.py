"""A developer starts a second stack on data another server already uses.

Journey: two PostgreSQL (or Redis) servers on one data folder corrupt it,
and Compose tells stacks apart by project name only. So whatever the
project name, before start.sh, restart.sh or reset.sh start anything on
volumes/<service>, they ask the engine which running containers mount it
(the same folder by any spelling, through a symlink too). This project's
own container of that service is no conflict; any other is refused with one
line naming the container, its project and folder, and what to type, and
nothing is started, stopped or deleted.

The fake docker plays the engine's running containers (FAKE_DOCKER_CONTAINERS);
the real engine runs the same journeys in tests/e2e/test_one_data_folder.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from .harness import one_line_error


def container(name: str, project: str | None, service: str | None, folder: Path | None,
              *sources: Path) -> dict:
    """A running container of the fake engine (tests/support/fake_docker.py)
    bind-mounting SOURCES; with no PROJECT, one Compose did not start."""
    running = {"name": name, "id": hashlib.sha256(name.encode()).hexdigest(),
               "mounts": [{"Type": "bind", "Source": str(source), "Destination": "/data"} for source in sources]}
    if project is not None:
        running.update(project=project, service=service, working_dir=str(folder))
    return running


def engine_with(tmp_path: Path, *containers: dict) -> dict[str, str]:
    listing = tmp_path / "engine.json"
    listing.write_text(json.dumps({"containers": list(containers), "networks": []}))
    return {"FAKE_DOCKER_CONTAINERS": str(listing)}


def data_folder(harness, service: str) -> Path:
    folder = harness.repo / "volumes" / service
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").write_text("precious\n")
    return folder


@pytest.mark.parametrize("script", ["start.sh", "restart.sh"])
def test_another_projects_server_on_the_data_folder_is_named_and_nothing_starts(harness, tmp_path, script):
    harness.write_env()
    data_folder(harness, "postgres")
    # The same folder spelled through a symlink to the clone.
    alias = tmp_path / "alias"
    alias.symlink_to(harness.repo)
    other = container("other-postgres-1", "other", "postgres", harness.repo, alias / "volumes" / "postgres")
    result = harness.run(script, "--no-wait", env=engine_with(tmp_path, other))
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert (f"volumes/postgres is in use by the running container other-postgres-1 (project other, "
            f"started from {harness.repo})") in line
    assert f"cd {harness.repo} && COMPOSE_PROJECT_NAME=other ./scripts/stop.sh" in line
    assert "docker stop other-postgres-1" in line and "a clone of its own" in line
    assert harness.compose_calls() == [], "nothing may be stopped or started"


def test_a_container_compose_did_not_start_is_named_with_docker_stop(harness, tmp_path):
    harness.write_env()
    redis = data_folder(harness, "redis")
    stray = container("my-redis", None, None, None, redis)
    result = harness.run("start.sh", "redis", "--no-wait", env=engine_with(tmp_path, stray))
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert "volumes/redis is in use by the running container my-redis (not started by Compose)" in line
    assert "docker stop my-redis" in line
    assert harness.compose_calls() == []


def test_another_service_of_this_project_on_the_data_folder_is_refused_too(harness, tmp_path):
    harness.write_env()
    postgres = data_folder(harness, "postgres")
    # A service of the developer's own override that mounts it too.
    (harness.repo / "docker-compose.override.yml").write_text(
        "services:\n  pgcopy:\n    image: alpine:3\n    volumes:\n      - ./volumes/postgres:/data\n")
    sidecar = container("transbot-pgcopy-1", "transbot", "pgcopy", harness.repo, postgres)
    result = harness.run("start.sh", "--no-wait", env=engine_with(tmp_path, sidecar))
    assert result.returncode == 1, result
    assert "running container transbot-pgcopy-1 (project transbot" in one_line_error(result)
    assert harness.compose_calls() == []


def test_this_projects_own_servers_and_unrelated_mounts_are_no_conflict(harness, tmp_path):
    harness.write_env()
    postgres, redis = data_folder(harness, "postgres"), data_folder(harness, "redis")
    elsewhere = tmp_path / "elsewhere-data"
    elsewhere.mkdir()
    running = engine_with(
        tmp_path,
        container("transbot-postgres-1", "transbot", "postgres", harness.repo, postgres),
        container("transbot-redis-1", "transbot", "redis", harness.repo, redis),
        container("other-postgres-1", "other", "postgres", tmp_path, elsewhere),
    )
    result = harness.run("start.sh", "--no-wait", env=running)
    assert result.returncode == 0, result
    assert len(harness.compose_up_calls()) == 1


def test_a_stack_started_with_another_project_name_from_the_shell_is_refused(harness, tmp_path):
    # .env.infra says transbot, the shell another name: the running
    # transbot stack's servers are not this project's.
    harness.write_env()
    postgres = data_folder(harness, "postgres")
    running = engine_with(tmp_path, container("transbot-postgres-1", "transbot", "postgres", harness.repo, postgres))
    result = harness.run("start.sh", "--no-wait", env={**running, "COMPOSE_PROJECT_NAME": "second"})
    assert result.returncode == 1, result
    assert "transbot-postgres-1 (project transbot" in one_line_error(result)
    assert harness.compose_calls() == []


def test_reset_deletes_nothing_while_another_projects_server_uses_the_folder(harness, tmp_path):
    harness.write_env()
    redis = data_folder(harness, "redis")
    other = container("other-redis-1", "other", "redis", harness.repo, redis)
    result = harness.run("reset.sh", "redis", "--yes", env=engine_with(tmp_path, other))
    assert result.returncode == 1, result
    assert "volumes/redis is in use by the running container other-redis-1" in one_line_error(result)
    assert harness.compose_calls() == [], "nothing may be stopped or run"
    assert (redis / "data").read_text() == "precious\n"

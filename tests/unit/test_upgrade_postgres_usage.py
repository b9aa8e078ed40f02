"""A developer calls upgrade-postgres.sh wrongly: no image, a name that is no
image, an image of the same major as the data. Each is one error line, exit
2, and nothing is stopped, moved or written."""

from __future__ import annotations

from unit.harness import one_line_error

PG15 = {"name": "postgres:15-alpine", "env": ["PG_MAJOR=15"]}
REDIS = {"name": "redis:7-alpine", "env": ["REDIS_VERSION=7.4.10"]}


def _refused(harness, *args: str, images=(PG15, REDIS)) -> str:
    written = harness.write_env()
    folder = harness.repo / "volumes" / "postgres"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "PG_VERSION").write_text("15\n")
    result = harness.run("upgrade-postgres.sh", *args, env=harness.set_engine(images=list(images)))
    assert result.returncode == 2, result
    assert harness.compose_up_calls() == []
    assert not [call for call in harness.compose_commands() if "stop" in call]
    assert harness.env_file.read_bytes() == written
    assert sorted(path.name for path in (harness.repo / "volumes").iterdir()) == [".gitkeep", "postgres"]
    return one_line_error(result)


def test_no_image_is_a_usage_error(harness):
    assert "name the PostgreSQL image to upgrade to" in _refused(harness)


def test_a_name_that_is_no_image_is_refused(harness):
    assert "is not an image name" in _refused(harness, "--yes", "Postgres 17")


def test_the_same_major_is_no_upgrade(harness):
    line = _refused(harness, "postgres:15-alpine", "--yes")
    assert "PostgreSQL 15" in line and "only a newer major is an upgrade" in line, line


def test_an_image_without_pg_major_is_refused(harness):
    assert "is not a PostgreSQL image" in _refused(harness, "redis:7-alpine", "--yes")

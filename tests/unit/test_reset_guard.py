"""A developer (or a script) asks reset.sh to delete data.

Journey: without a terminal to confirm on and without --yes, reset.sh
refuses with exit 2 and deletes nothing: not from a pipe, not from a CI job,
not with stdin closed. With --yes it stops what it must and deletes only the
named service's data, through a throw-away container. Nothing to delete is
a success.
"""

from __future__ import annotations

import pytest

from .harness import one_line_error


def seed_volume(harness, service: str = "redis"):
    folder = harness.repo / "volumes" / service
    folder.mkdir(parents=True, exist_ok=True)
    keep = folder / "appendonly.aof"
    keep.write_text("precious data\n")
    return keep


@pytest.mark.parametrize("close_stdin", [False, True], ids=["stdin-not-a-terminal", "stdin-closed"])
@pytest.mark.parametrize("args", [[], ["redis"]], ids=["all", "redis"])
def test_reset_without_terminal_or_yes_deletes_nothing(harness, args, close_stdin):
    harness.write_env()
    keep = seed_volume(harness)
    result = harness.run("reset.sh", *args, close_stdin=close_stdin)
    assert result.returncode == 2, result
    assert "--yes" in result.stderr
    assert "volumes/redis" in result.stdout, "it should say what it would delete"
    assert keep.read_text() == "precious data\n"
    assert harness.compose_calls() == [], "nothing may be stopped or run before confirmation"


def test_reset_without_terminal_on_a_fresh_clone_deletes_nothing(harness):
    keep = seed_volume(harness)
    result = harness.run("reset.sh")
    assert result.returncode == 2, result
    assert keep.exists()
    assert not harness.env_file.exists()
    assert harness.compose_calls() == []


def test_reset_with_yes_stops_the_service_and_deletes_only_its_data(harness):
    harness.write_env()
    seed_volume(harness, "redis")
    postgres_data = seed_volume(harness, "postgres")
    result = harness.run("reset.sh", "redis", "--yes")
    assert result.returncode == 0, result
    assert harness.compose_commands() == [
        ["stop", "redis"],
        ["run", "--rm", "--no-deps", "-T", "--user", "0", "--entrypoint", "sh", "redis",
         "-c", "find /data -mindepth 1 -delete"],
    ]
    assert postgres_data.exists()
    assert "deleted volumes/redis" in result.stdout


def test_reset_postgres_also_stops_langfuse(harness):
    harness.write_env()
    seed_volume(harness, "postgres")
    result = harness.run("reset.sh", "--yes", "postgres")
    assert result.returncode == 0, result
    commands = harness.compose_commands()
    assert commands[0] == ["stop", "postgres", "langfuse"]
    assert commands[1][-3:] == ["postgres", "-c", "find /var/lib/postgresql/data -mindepth 1 -delete"]


def test_reset_with_empty_volumes_has_nothing_to_delete(harness):
    harness.write_env()
    result = harness.run("reset.sh")
    assert result.returncode == 0, result
    assert "nothing to delete" in result.stdout
    assert harness.compose_calls() == []


def test_reset_langfuse_points_at_postgres(harness):
    harness.write_env()
    seed_volume(harness, "redis")
    result = harness.run("reset.sh", "langfuse")
    assert result.returncode == 2, result
    assert "langfuse keeps no data of its own" in result.stderr and "in postgres" in result.stderr
    assert harness.calls() == []
    assert (harness.repo / "volumes" / "redis" / "appendonly.aof").exists(), "redis's data was touched"


@pytest.mark.parametrize("script", ["reset.sh", "backup.sh"])
def test_a_service_of_an_override_file_is_refused_by_the_data_scripts(harness, script):
    harness.write_env()
    (harness.repo / "docker-compose.override.yml").write_text("services:\n  mailcatcher:\n    image: busybox\n")
    seed_volume(harness, "redis")
    result = harness.run(script, "mailcatcher", "--yes" if script == "reset.sh" else "redis")
    assert result.returncode == 2, result
    assert "manages only the built-in data" in one_line_error(result)
    assert harness.calls() == []

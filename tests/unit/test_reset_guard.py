"""A developer (or a script) asks reset.sh to delete data.

Journey: without a terminal to confirm on and without --yes, reset.sh
refuses with exit 2 and deletes nothing: not from a pipe, not from a CI job,
not with stdin closed. With --yes it stops what it must and deletes only the
named service's data, through a throw-away container. Nothing to delete is
a success.

The fake docker runs nothing, so on its own it cannot show whether the
throw-away container's command deletes anything. For the cases that delete,
a shim in front of it plays that container: for `compose run ... --entrypoint
sh SERVICE -c COMMAND` it runs COMMAND with the service's bind mounts of the
compose file (./volumes/...) put where the container would see them, then
hands the call to the fake, which logs it. "deleted volumes/redis" then has
to be true on disk. The real engine runs the same in tests/e2e.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

# `docker` in front of the fake: plays the container of `compose run`.
_CONTAINER_SHIM = r'''
import json, os, shlex, subprocess, sys, tempfile

args = sys.argv[1:]
compose_args = args[1:] if args[:1] == ["compose"] else []
VALUE_OPTIONS = {"-p", "--project-name", "-f", "--file", "--env-file", "--profile", "--project-directory",
                 "--ansi", "--progress", "--parallel"}
RUN_VALUE_OPTIONS = {"-u", "--user", "--entrypoint", "-e", "--env", "-w", "--workdir", "--name", "-v", "--volume",
                     "-p", "--publish", "-l", "--label"}
index = 0
while index < len(compose_args) and compose_args[index].startswith("-"):
    index += 2 if compose_args[index] in VALUE_OPTIONS else 1
command = compose_args[index:]
if command[:1] == ["run"]:
    rest, entrypoint = command[1:], None
    while rest and rest[0].startswith("-"):
        if rest[0] == "--entrypoint":
            entrypoint = rest[1]
        rest = rest[2:] if rest[0] in RUN_VALUE_OPTIONS else rest[1:]
    service, container_command = rest[0], rest[1:]
    if entrypoint == "sh" and container_command[:1] == ["-c"]:
        if os.environ.get("SHIM_CONTAINER_STATUS", "0") != "0":
            print("shim: the container command failed", file=sys.stderr)
            sys.exit(int(os.environ["SHIM_CONTAINER_STATUS"]))
        script = container_command[1]
        mounts = json.loads(os.environ["SHIM_MOUNTS"]).get(service, {})
        for inside in sorted(mounts, key=len, reverse=True):
            script = script.replace(inside, mounts[inside])
        # This runs on the host: refuse any path outside the service's mounts.
        for word in shlex.split(script):
            if "/" in word and not any(os.path.normpath(word) == host or os.path.normpath(word).startswith(host + "/")
                                       for host in mounts.values()):
                print("shim: refusing to run, on the host, a command that names " + word, file=sys.stderr)
                sys.exit(97)
        # An empty working directory: a relative path can reach nothing.
        done = subprocess.run(["sh", "-c", script], cwd=tempfile.mkdtemp())
        if done.returncode != 0:
            sys.exit(done.returncode)
os.execv(os.environ["SHIM_NEXT_DOCKER"], [os.environ["SHIM_NEXT_DOCKER"], *args])
'''


def _bind_mounts(repo: Path) -> dict[str, dict[str, str]]:
    """Each service's data mounts from the compose file: inside -> host path."""
    services = yaml.safe_load((repo / "docker-compose.yml").read_text())["services"]
    mounts: dict[str, dict[str, str]] = {}
    for name, service in services.items():
        for volume in service.get("volumes", []):
            host, inside = volume.split(":")[:2]
            if host.startswith("./volumes/"):
                mounts.setdefault(name, {})[inside] = str(repo / host)
    return mounts


@pytest.fixture
def container_shim(harness, tmp_path):
    """Environment for harness.run that puts the container shim first on PATH."""
    shim_bin = tmp_path / "shim-bin"
    shim_bin.mkdir()
    shim = shim_bin / "docker"
    shim.write_text(f"#!{sys.executable} -S\n{_CONTAINER_SHIM}")
    shim.chmod(0o755)
    return {
        "PATH": f"{shim_bin}:{harness.sandbox.path(docker=True, compose_v1=False)}",
        "SHIM_NEXT_DOCKER": str(harness.sandbox.docker_bin / "docker"),
        "SHIM_MOUNTS": json.dumps(_bind_mounts(harness.repo)),
    }

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


def test_reset_with_yes_stops_the_service_and_deletes_only_its_data(harness, container_shim):
    harness.write_env()
    redis_data = seed_volume(harness, "redis")
    (redis_data.parent / "appendonlydir").mkdir()
    (redis_data.parent / "appendonlydir" / "appendonly.aof.1.incr.aof").write_text("SET k v\n")
    postgres_data = seed_volume(harness, "postgres")
    result = harness.run("reset.sh", "redis", "--yes", env=container_shim)
    assert result.returncode == 0, result
    commands = harness.compose_commands()
    assert commands[0] == ["stop", "redis"]
    assert commands[1][:9] == ["run", "--rm", "--no-deps", "-T", "--user", "0", "--entrypoint", "sh", "redis"]
    assert len(commands) == 2
    assert "deleted volumes/redis" in result.stdout
    assert list(redis_data.parent.iterdir()) == [], "it said 'deleted' but volumes/redis still has files"
    assert postgres_data.read_text() == "precious data\n"


def test_reset_postgres_also_stops_langfuse(harness, container_shim):
    harness.write_env()
    postgres_data = seed_volume(harness, "postgres")
    redis_data = seed_volume(harness, "redis")
    result = harness.run("reset.sh", "--yes", "postgres", env=container_shim)
    assert result.returncode == 0, result
    commands = harness.compose_commands()
    assert commands[0] == ["stop", "postgres", "langfuse"]
    assert commands[1][:9] == ["run", "--rm", "--no-deps", "-T", "--user", "0", "--entrypoint", "sh", "postgres"]
    assert "deleted volumes/postgres" in result.stdout
    assert list(postgres_data.parent.iterdir()) == []
    assert redis_data.exists()


def test_reset_says_so_and_exits_1_when_the_data_cannot_be_deleted(harness, container_shim):
    harness.write_env()
    keep = seed_volume(harness, "redis")
    result = harness.run("reset.sh", "redis", "--yes", env={**container_shim, "SHIM_CONTAINER_STATUS": "1"})
    assert result.returncode == 1, result
    assert "could not delete volumes/redis" in result.stderr
    assert "deleted volumes/redis" not in result.stdout
    assert keep.read_text() == "precious data\n"


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


def test_a_symlinked_data_folder_is_refused_and_its_target_kept(harness, container_shim, tmp_path):
    # volumes/redis points at data outside the repository: Docker would
    # follow the link, so reset.sh would empty the target.
    harness.write_env()
    target = tmp_path / "big-disk" / "redis-data"
    target.mkdir(parents=True)
    (target / "appendonly.aof").write_bytes(b"x" * 5_000_000)
    (harness.repo / "volumes" / "redis").symlink_to(target)
    result = harness.run("reset.sh", "redis", "--yes", env=container_shim)
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert f"volumes/redis is a symlink to {target}" in line
    assert "nothing was deleted" in line and "delete it by hand" in line
    assert result.stdout == "", "nothing may be listed as if it were this repository's data"
    assert (target / "appendonly.aof").stat().st_size == 5_000_000
    assert harness.calls() == [], "nothing may be stopped or run"


def test_data_folders_outside_the_repository_through_a_symlinked_volumes_are_refused(harness, container_shim,
                                                                                    tmp_path):
    harness.write_env()
    elsewhere = tmp_path / "elsewhere-volumes"
    (elsewhere / "postgres").mkdir(parents=True)
    (elsewhere / "postgres" / "PG_VERSION").write_text("15\n")
    volumes = harness.repo / "volumes"
    shutil.rmtree(volumes)
    volumes.symlink_to(elsewhere)
    result = harness.run("reset.sh", "--yes", env=container_shim)
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert f"volumes/postgres is {elsewhere / 'postgres'}, outside this repository" in line
    assert "delete it by hand" in line
    assert (elsewhere / "postgres" / "PG_VERSION").read_text() == "15\n"
    assert harness.calls() == []

"""The scripts that work inside the running containers: psql.sh,
redis-cli.sh, apply-schema.sh and backup.sh.

The fake docker has no containers. A shim in front of it plays a running,
healthy container for each built-in service: `docker ps -aq` with a service
filter names one, `docker inspect` says "running healthy", and `docker exec`
is recorded (its arguments, the values of the variables passed with -e NAME,
its stdin) and answers as the client in the container would. Everything
else goes on to the fake. The real engine runs these scripts in tests/e2e.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from .harness import parse_env

_RUNNING_CONTAINERS = r'''
import json, os, sys

args = sys.argv[1:]
if args[:2] == ["ps", "-aq"]:
    services = [arg.rsplit("=", 1)[1] for arg in args if arg.startswith("label=com.docker.compose.service=")]
    if services:
        print("c-" + services[0])
    sys.exit(0)
if args[:1] == ["inspect"] and args[-1].startswith("c-"):
    print("running healthy")
    sys.exit(0)
if args[:1] == ["exec"]:
    rest, names, interactive = args[1:], [], False
    while rest[0].startswith("-"):
        if rest[0] == "-e":
            names.append(rest[1])
            rest = rest[2:]
        else:
            interactive = interactive or rest[0] == "-i"
            rest = rest[1:]
    container, command = rest[0], rest[1:]
    record = {"container": container, "command": command, "options": args[1:args.index(container)],
              "env": {name: os.environ.get(name) for name in names},
              "stdin": sys.stdin.read() if interactive else ""}
    with open(os.environ["SHIM_EXEC_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")
    # SHIM_INITIAL_USER: the data folder was initialised with that user, the
    # only role there is besides langfuse. PostgreSQL over the socket:
    unknown = os.environ.get("SHIM_INITIAL_USER")
    if unknown and command[:1] == ["psql"] and "-U" in command and command[command.index("-U") + 1] != unknown:
        role = command[command.index("-U") + 1]
        print('psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: '
              'FATAL:  role "' + role + '" does not exist', file=sys.stderr)
        sys.exit(2)
    if unknown and command[:2] == ["sh", "-c"] and "oid = 10" in command[2]:
        print(unknown)
        sys.exit(0)
    if command[:1] == ["pg_dump"]:
        sys.stdout.write("PGDMP archive of " + command[command.index("--dbname") + 1])
    elif command[:1] == ["sh"] and "redis-cli --rdb" in " ".join(command):
        sys.stdout.write("REDIS0011 snapshot")
    sys.exit(0)
os.execv(os.environ["SHIM_NEXT_DOCKER"], [os.environ["SHIM_NEXT_DOCKER"], *args])
'''


class Containers:
    """The running containers a test's scripts see, and what was run in them."""

    def __init__(self, harness, root: Path):
        self.harness = harness
        self.log = root / "exec.jsonl"
        shim_bin = root / "shim-bin"
        shim_bin.mkdir(parents=True)
        shim = shim_bin / "docker"
        shim.write_text(f"#!{sys.executable} -S\n{_RUNNING_CONTAINERS}")
        shim.chmod(0o755)
        self.env = {"PATH": f"{shim_bin}:{harness.env()['PATH']}", "SHIM_EXEC_LOG": str(self.log),
                    "SHIM_NEXT_DOCKER": str(harness.sandbox.docker_bin / "docker")}

    def run(self, script: str, *args: str, **kwargs):
        return self.harness.run(script, *args, env=self.env, **kwargs)

    def execs(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def containers(harness, tmp_path) -> Containers:
    harness.write_env()
    return Containers(harness, tmp_path / "containers")


def test_psql_opens_the_transbot_database_as_its_owner(containers):
    result = containers.run("psql.sh", "-c", "SELECT 1")
    assert result.returncode == 0, result
    [call] = containers.execs()
    values = parse_env(containers.harness.env_file.read_text())
    assert call["container"] == "c-postgres"
    assert call["command"] == ["psql", "--username", values["POSTGRES_USER"], "--dbname", values["POSTGRES_DB"],
                               "-c", "SELECT 1"]
    assert call["env"] == {}, "inside its container psql needs no password"


def test_psql_follows_the_user_and_database_of_env_infra_not_the_defaults(containers):
    containers.harness.write_env({"POSTGRES_USER": "team_user", "POSTGRES_DB": "team_db"})
    result = containers.run("psql.sh")
    assert result.returncode == 0, result
    [call] = containers.execs()
    assert call["command"] == ["psql", "--username", "team_user", "--dbname", "team_db"]


def test_psql_without_the_settings_uses_the_defaults_compose_uses(containers):
    text = containers.harness.env_file.read_text()
    containers.harness.env_file.write_text("".join(line for line in text.splitlines(keepends=True)
                                                   if not line.startswith(("POSTGRES_USER=", "POSTGRES_DB="))))
    result = containers.run("psql.sh")
    assert result.returncode == 0, result
    [call] = containers.execs()
    assert call["command"] == ["psql", "--username", "transbot_user", "--dbname", "transbot"]


def test_redis_cli_gets_the_password_through_its_environment(containers):
    result = containers.run("redis-cli.sh", "ping")
    assert result.returncode == 0, result
    [call] = containers.execs()
    password = parse_env(containers.harness.env_file.read_text())["REDIS_PASSWORD"]
    assert call["container"] == "c-redis" and call["command"] == ["redis-cli", "ping"]
    assert call["env"] == {"REDISCLI_AUTH": password}
    assert not any(password in word for word in call["options"] + call["command"]), \
        "the password would show in the process list"


def test_apply_schema_sets_the_password_of_env_infra(containers):
    repo = containers.harness.repo
    result = containers.run("apply-schema.sh")
    assert result.returncode == 0, result
    values = parse_env(containers.harness.env_file.read_text())
    role, schema, langfuse, password = containers.execs()
    assert role["command"][:5] == ["psql", "-U", values["POSTGRES_USER"], "-d", "template1"], \
        "POSTGRES_USER was not checked first"
    assert schema["stdin"] == (repo / "services/postgres/init.sql").read_text()
    assert langfuse["stdin"] == (repo / "services/postgres/langfuse-database.sh").read_text()
    assert langfuse["env"]["LANGFUSE_DB_PASSWORD"] == values["LANGFUSE_DB_PASSWORD"]
    assert "ALTER ROLE" in password["stdin"]
    assert password["env"] == {"TRANSBOT_NEW_PASSWORD": values["POSTGRES_PASSWORD"]}


def test_apply_schema_names_a_postgres_user_the_database_does_not_have(containers):
    """POSTGRES_USER changed after initialisation: one line naming both
    users and the fix, not psql's error and an internal error."""
    containers.env["SHIM_INITIAL_USER"] = "olduser"
    result = containers.run("apply-schema.sh")
    assert result.returncode == 1, result
    user = parse_env(containers.harness.env_file.read_text())["POSTGRES_USER"]
    assert result.stderr == (
        f"error: POSTGRES_USER in .env.infra ({user}) is not a role of volumes/postgres, which was initialised "
        "with olduser: PostgreSQL creates POSTGRES_USER only when it initialises an empty data folder; put the "
        "old value back in .env.infra (POSTGRES_USER=olduser), then ./scripts/restart.sh postgres\n"), result
    assert [call["command"][0] for call in containers.execs()] == ["psql", "sh"], "apply-schema went on"


def test_a_backup_is_readable_only_by_its_owner(containers):
    result = containers.run("backup.sh", umask=0o022)
    assert result.returncode == 0, result
    [folder] = (containers.harness.repo / "backups").iterdir()
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    files = sorted(folder.iterdir())
    assert [path.name for path in files] == ["MANIFEST", "postgres-langfuse.dump", "postgres-transbot.dump",
                                             "redis.rdb"]
    assert [oct(path.stat().st_mode & 0o777) for path in files] == ["0o600"] * 4
    manifest = (folder / "MANIFEST").read_text()
    for path in files[1:]:
        assert f"sha256 {hashlib.sha256(path.read_bytes()).hexdigest()} {path.name}" in manifest

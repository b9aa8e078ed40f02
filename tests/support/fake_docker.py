"""A fake `docker` and `docker-compose` for tests that need no Docker engine.

The fakes are tiny executables put first on PATH. Each call appends one JSON
line ({"program", "args", "cwd"}) to the file named by FAKE_DOCKER_LOG and
answers the way the real CLI does in the situation the environment describes:

  FAKE_DOCKER_PLUGIN      present (default): `docker compose` is Compose v2;
                          missing: `docker compose` is not a docker command
  FAKE_DOCKER_DAEMON      up (default) | down | denied (no docker group)
  FAKE_DOCKER_COMPOSE_OUTPUT  a file printed by every compose subcommand
                          except `version` (e.g. what `logs` shows)
  FAKE_DOCKER_COMPOSE_STATUS  exit status of those subcommands (default 0)

The engine has no containers: `docker ps` prints nothing and `docker inspect`
finds nothing. `compose up/stop/down/logs/run` only record their arguments.

This module only uses the standard library and no relative imports: the fake
executables import it directly by its file path.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

COMPOSE_V2_VERSION = "2.40.3"
COMPOSE_V1_VERSION = "1.29.2"
SERVER_VERSION = "27.3.1"

NOT_A_DOCKER_COMMAND = "docker: 'compose' is not a docker command.\nSee 'docker --help'"
DAEMON_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
PERMISSION_DENIED = (
    "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: "
    'Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.47/version": dial unix /var/run/docker.sock: connect: permission denied'
)

# Programs a "no Docker here" PATH must not offer.
DOCKER_PROGRAMS = ("docker", "docker-compose", "dockerd")

# Compose's global options that take a value, in the forms the scripts use.
_COMPOSE_VALUE_OPTIONS = {"-p", "--project-name", "-f", "--file", "--env-file", "--profile",
                          "--project-directory", "--ansi", "--progress", "--parallel"}


def split_compose_args(args: list[str]) -> tuple[list[str], list[str]]:
    """Compose's arguments as (global options, subcommand and its arguments)."""
    index = 0
    while index < len(args) and args[index].startswith("-"):
        option = args[index]
        index += 2 if option in _COMPOSE_VALUE_OPTIONS else 1
    return args[:index], args[index:]


# --- The fake executables --------------------------------------------------------


def _record(program: str, args: list[str]) -> None:
    log = os.environ.get("FAKE_DOCKER_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"program": program, "args": args, "cwd": os.getcwd()}) + "\n")


def _compose_subcommand(version: str, args: list[str]) -> int:
    _, command = split_compose_args(args)
    if command[:1] == ["version"]:
        print(version if "--short" in command else f"Docker Compose version v{version}")
        return 0
    output = os.environ.get("FAKE_DOCKER_COMPOSE_OUTPUT")
    if output:
        sys.stdout.write(Path(output).read_text())
    return int(os.environ.get("FAKE_DOCKER_COMPOSE_STATUS", "0"))


def _daemon_problem() -> str | None:
    daemon = os.environ.get("FAKE_DOCKER_DAEMON", "up")
    if daemon == "down":
        return DAEMON_DOWN
    if daemon == "denied":
        return PERMISSION_DENIED
    return None


def fake_main(program: str, args: list[str]) -> int:
    _record(program, args)
    if program == "docker-compose":
        return _compose_subcommand(COMPOSE_V1_VERSION, args)
    if args[:1] == ["compose"]:
        if os.environ.get("FAKE_DOCKER_PLUGIN", "present") != "present":
            print(NOT_A_DOCKER_COMMAND, file=sys.stderr)
            return 1
        return _compose_subcommand(COMPOSE_V2_VERSION, args[1:])
    problem = _daemon_problem()
    if args[:1] == ["version"]:
        if problem:
            print(problem, file=sys.stderr)
            return 1
        print(SERVER_VERSION)
        return 0
    if problem:
        print(problem, file=sys.stderr)
        return 1
    if args[:1] == ["ps"]:
        return 0  # no containers
    if args[:1] in (["inspect"], ["port"], ["logs"], ["exec"]):
        print(f"Error: No such object: {args[-1] if len(args) > 1 else ''}", file=sys.stderr)
        return 1
    return 0


# --- Setting them up ------------------------------------------------------------


def _write_executable(path: Path, program: str) -> None:
    module_dir = Path(__file__).resolve().parent
    path.write_text(
        f"#!{sys.executable} -S\n"
        "import sys\n"
        f"sys.path.insert(0, {str(module_dir)!r})\n"
        "import fake_docker\n"
        f"sys.exit(fake_docker.fake_main({program!r}, sys.argv[1:]))\n"
    )
    path.chmod(0o755)


def _path_without_docker(destination: Path, path: str) -> None:
    """Fills DESTINATION with symlinks to every program on PATH except Docker's."""
    destination.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    for directory in path.split(os.pathsep):
        try:
            entries = list(os.scandir(directory or "."))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name in seen or name.startswith("docker") or name in DOCKER_PROGRAMS:
                continue
            try:
                if not entry.is_file() or not os.access(entry.path, os.X_OK):
                    continue
            except OSError:
                continue
            seen.add(name)
            (destination / name).symlink_to(entry.path)


@dataclass(frozen=True)
class DockerSandbox:
    """Directories to build a PATH from: the fakes, and everything else."""

    docker_bin: Path  # holds the fake `docker`
    compose_v1_bin: Path  # holds the fake `docker-compose`
    no_docker_bin: Path  # symlinks to every program of the real PATH but Docker's

    @classmethod
    def build(cls, root: Path, path: str | None = None) -> "DockerSandbox":
        sandbox = cls(root / "docker-bin", root / "compose-v1-bin", root / "no-docker-bin")
        sandbox.docker_bin.mkdir(parents=True)
        sandbox.compose_v1_bin.mkdir(parents=True)
        _write_executable(sandbox.docker_bin / "docker", "docker")
        _write_executable(sandbox.compose_v1_bin / "docker-compose", "docker-compose")
        _path_without_docker(sandbox.no_docker_bin, path if path is not None else os.environ.get("PATH", ""))
        return sandbox

    def path(self, docker: bool, compose_v1: bool) -> str:
        directories = []
        if docker:
            directories.append(self.docker_bin)
        if compose_v1:
            directories.append(self.compose_v1_bin)
        directories.append(self.no_docker_bin)
        return os.pathsep.join(str(directory) for directory in directories)


@dataclass(frozen=True)
class Call:
    """One call of a fake: which program, its arguments, where it ran."""

    program: str
    args: tuple[str, ...]
    cwd: str

    @property
    def is_compose(self) -> bool:
        return self.program == "docker-compose" or self.args[:1] == ("compose",)

    @property
    def compose_args(self) -> tuple[str, ...]:
        """The arguments after `docker compose` or `docker-compose`."""
        return self.args[1:] if self.program == "docker" else self.args

    @property
    def compose_options(self) -> list[str]:
        return split_compose_args(list(self.compose_args))[0]

    @property
    def compose_command(self) -> list[str]:
        """The subcommand and its arguments, e.g. ["up", "-d"]."""
        return split_compose_args(list(self.compose_args))[1]


def read_calls(log: Path) -> list[Call]:
    if not log.exists():
        return []
    calls = []
    for line in log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        calls.append(Call(record["program"], tuple(record["args"]), record["cwd"]))
    return calls


if __name__ == "__main__":
    sys.exit(fake_main(Path(sys.argv[0]).name, sys.argv[1:]))

"""A fake `docker` and `docker-compose` for tests that need no Docker engine.

The fakes are tiny executables put first on PATH. Each call appends one JSON
line ({"program", "args", "cwd"}) to the file named by FAKE_DOCKER_LOG and
answers the way the real CLI does in the situation the environment describes:

  FAKE_DOCKER_PLUGIN      present (default): `docker compose` is Compose v2;
                          missing: `docker compose` is not a docker command
  FAKE_DOCKER_DAEMON      up (default) | down | denied (no docker group) |
                          silent (fails without a word)
  FAKE_DOCKER_PROJECT_DIR the folder `docker ps` says the project's containers
                          were started from (default: none exist)
  FAKE_DOCKER_COMPOSE_SLEEP  seconds `compose up` takes (e.g. a long time: it
                          waits for a dependency that never turns healthy).
                          Meanwhile it handles SIGINT and SIGTERM as the real
                          ones do: Compose v2 catches both, prints an empty
                          line and exits 130; v1 says "Aborting." and exits 1
                          on SIGINT, and dies of SIGTERM.
  FAKE_DOCKER_VERSION_SLEEP  seconds `docker version` takes
  FAKE_DOCKER_API_VERSION the engine's API version (default 1.47)
  FAKE_DOCKER_COMPOSE_VERSION  what `docker compose version` says (default
                          2.40.3); FAKE_DOCKER_COMPOSE_V1_VERSION likewise
  FAKE_DOCKER_COMPOSE_OUTPUT  a file printed by every compose subcommand
                          except `version` and `config` (e.g. what `logs` shows)
  FAKE_DOCKER_COMPOSE_STATUS  exit status of those subcommands (default 0)
  FAKE_DOCKER_COMPOSE_FAIL  comma-separated subcommands (up, down, stop, logs,
                          run, config) that print an error and exit 1
  FAKE_DOCKER_RECORD_ENV  comma-separated names of variables whose values
                          each call records too (what Compose would see)

The engine has no containers: `docker ps` prints nothing, `docker inspect`
finds nothing, and `docker events` streams nothing until it is killed. `compose up/stop/down/logs/run` only record their arguments.
`compose config` reads the compose files the way Compose picks them (-f,
COMPOSE_FILE, docker-compose.yml and its override), interpolates ${VAR:-x}
from the environment, and prints services, depends_on and ports in Compose
v1's normalised form; `config --services` prints the names.

DockerSandbox.build writes the fakes into a directory and builds a PATH with
no Docker at all; read_calls parses the log.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
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

# The program both fakes run (they tell themselves apart by argv[0]). It is
# written out whole, with only os, sys and json, because scripts call docker
# many times a run and Python's start-up is most of a call's cost.
_FAKE_PROGRAM = r'''
# First, before any import that takes time: the real CLI (a Go program)
# dies of Ctrl-C without a word, where Python would print a traceback.
import _signal
_signal.signal(_signal.SIGINT, _signal.SIG_DFL)
import json, os, re, sys

VALUE_OPTIONS = __VALUE_OPTIONS__
program, args = os.path.basename(sys.argv[0]), sys.argv[1:]
environ = os.environ
log = environ.get("FAKE_DOCKER_LOG")
if log:
    names = [name for name in environ.get("FAKE_DOCKER_RECORD_ENV", "").split(",") if name]
    record = {"program": program, "args": args, "cwd": os.getcwd(),
              "env": {name: environ.get(name) for name in names}}
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def pause(variable):
    """Takes as many seconds as VARIABLE says, if it is set: a slow engine.
    time is imported only then (start-up is most of a call's cost)."""
    if environ.get(variable):
        import time
        time.sleep(float(environ[variable]))


def handle_signals_as_compose(v1):
    """What `up` does on Ctrl-C or SIGTERM, as measured with Compose 2.40.3
    and 1.29.2: v2 cancels and exits 130 (not by the signal: a shell that
    waits for it sees a normal exit) after an empty line on stderr; v1 says
    "Aborting." and exits 1 on SIGINT, and dies of SIGTERM. Both catch
    SIGINT even when it was ignored at their start (Go's signal.Notify
    does)."""
    def cancelled(signum, frame):
        if v1:
            print("Aborting.", file=sys.stderr, flush=True)
            os._exit(1)
        print(file=sys.stderr, flush=True)
        os._exit(130)

    _signal.signal(_signal.SIGINT, cancelled)
    if not v1:
        _signal.signal(_signal.SIGTERM, cancelled)


def interpolate(text):
    def replace(match):
        name, operator, default = match.group(1), match.group(2) or "", match.group(3) or ""
        value = environ.get(name)
        if operator.startswith(":") and not value or value is None:
            if operator.endswith("?"):
                raise SystemExit("required variable " + name + " is missing a value: " + default)
            return default if operator.endswith("-") else ""
        return value
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?([^}]*)\}", replace, text)


def compose_files(options):
    files = [options[i + 1] for i in range(len(options) - 1) if options[i] in ("-f", "--file")]
    if not files and environ.get("COMPOSE_FILE"):
        files = environ["COMPOSE_FILE"].split(environ.get("COMPOSE_PATH_SEPARATOR", ":"))
    if not files:
        files = ["docker-compose.yml"] + [name for name in ("docker-compose.override.yml",) if os.path.exists(name)]
    return files


def read_services(path, services):
    """The services of one compose file (a subset of YAML: block style,
    two-space indents, short port strings), merged into SERVICES."""
    section = name = None
    in_services = False
    for raw in open(path, encoding="utf-8"):
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        text = line.strip()
        if indent == 0:
            in_services = text == "services:"
            continue
        if not in_services:
            continue
        if indent == 2 and text.endswith(":"):
            name = text[:-1]
            services.setdefault(name, {"depends_on": [], "ports": []})
            section = None
        elif indent == 4:
            section = text.split(":")[0]
            inline = text.split(":", 1)[1].strip()
            if section == "depends_on" and inline.startswith("["):
                services[name]["depends_on"] += [d.strip() for d in inline.strip("[]").split(",") if d.strip()]
            elif section == "ports" and inline.startswith("["):
                services[name]["ports"] += [p.strip().strip("\"'") for p in inline.strip("[]").split(",") if p.strip()]
        elif section == "depends_on" and indent >= 6:
            if text.startswith("- "):
                services[name]["depends_on"].append(text[2:].strip())
            elif indent == 6 and text.endswith(":"):
                services[name]["depends_on"].append(text[:-1])
        elif section == "ports" and text.startswith("- "):
            services[name]["ports"].append(text[2:].strip().strip("\"'"))


def compose_config(options, command):
    services = {}
    for path in compose_files(options):
        if not os.path.exists(path):
            print("open " + os.path.abspath(path) + ": no such file or directory", file=sys.stderr)
            return 1
        read_services(path, services)
    if "--services" in command:
        print("\n".join(services))
        return 0
    if any(word.startswith("--hash") for word in command):
        print("\n".join(name + " fakehash" for name in services))
        return 0
    print("services:")
    for name in sorted(services):
        print("  " + name + ":")
        if services[name]["depends_on"]:
            print("    depends_on:")
            for dependency in services[name]["depends_on"]:
                print("      " + dependency + ":")
                print("        condition: service_healthy")
        if services[name]["ports"]:
            print("    ports:")
            for port in services[name]["ports"]:
                print("    - " + interpolate(port) + "/tcp")
    return 0


def compose(version, args):
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in VALUE_OPTIONS else 1
    options, command = args[:index], args[index:]
    if command[:1] == ["version"]:
        print(version if "--short" in command else "Docker Compose version v" + version)
        return 0
    failing = [name for name in environ.get("FAKE_DOCKER_COMPOSE_FAIL", "").split(",") if name]
    if command[:1] and command[0] in failing:
        print("Error response from daemon: fake failure of compose " + command[0], file=sys.stderr)
        return 1
    if command[:1] == ["config"]:
        return compose_config(options, command)
    if command[:1] == ["up"]:
        handle_signals_as_compose(program == "docker-compose")
        pause("FAKE_DOCKER_COMPOSE_SLEEP")
    output = environ.get("FAKE_DOCKER_COMPOSE_OUTPUT")
    if output:
        with open(output, encoding="utf-8") as handle:
            sys.stdout.write(handle.read())
    return int(environ.get("FAKE_DOCKER_COMPOSE_STATUS", "0"))


def docker(args):
    if args[:1] == ["compose"]:
        if environ.get("FAKE_DOCKER_PLUGIN", "present") != "present":
            print(__NOT_A_DOCKER_COMMAND__, file=sys.stderr)
            return 1
        return compose(environ.get("FAKE_DOCKER_COMPOSE_VERSION", __COMPOSE_V2_VERSION__), args[1:])
    problem = {"down": __DAEMON_DOWN__, "denied": __PERMISSION_DENIED__, "silent": ""}.get(
        environ.get("FAKE_DOCKER_DAEMON", "up"))
    if problem is not None:
        if problem:
            print(problem, file=sys.stderr)
        return 1
    if args[:1] == ["version"]:
        pause("FAKE_DOCKER_VERSION_SLEEP")
        wanted = " ".join(args)
        print(environ.get("FAKE_DOCKER_API_VERSION", "1.47") if "APIVersion" in wanted else __SERVER_VERSION__)
        return 0
    if args[:1] == ["ps"]:
        folder = environ.get("FAKE_DOCKER_PROJECT_DIR")
        wanted = " ".join(args)
        if folder and "com.docker.compose.project.working_dir" in wanted:
            # One container of that other folder, in the columns asked for.
            print(f"0f1e2d3c4b5a postgres {folder}" if "{{.ID}}" in wanted else folder)
        return 0  # no containers otherwise
    if args[:1] == ["events"]:
        # A stream that ends only when it is killed, as the real one; the
        # fake engine has no containers, so it reports nothing.
        import time
        while True:
            time.sleep(3600)
    if args[:1] in (["inspect"], ["port"], ["logs"], ["exec"]):
        print("Error: No such object: " + (args[-1] if len(args) > 1 else ""), file=sys.stderr)
        return 1
    return 0


sys.exit(compose(environ.get("FAKE_DOCKER_COMPOSE_V1_VERSION", __COMPOSE_V1_VERSION__), args)
         if program == "docker-compose" else docker(args))
'''


def fake_program() -> str:
    """The source of the fake executables, with this module's constants."""
    values = {
        "__VALUE_OPTIONS__": repr(set(_COMPOSE_VALUE_OPTIONS)),
        "__NOT_A_DOCKER_COMMAND__": repr(NOT_A_DOCKER_COMMAND),
        "__DAEMON_DOWN__": repr(DAEMON_DOWN),
        "__PERMISSION_DENIED__": repr(PERMISSION_DENIED),
        "__SERVER_VERSION__": repr(SERVER_VERSION),
        "__COMPOSE_V2_VERSION__": repr(COMPOSE_V2_VERSION),
        "__COMPOSE_V1_VERSION__": repr(COMPOSE_V1_VERSION),
    }
    source = _FAKE_PROGRAM
    for name, value in values.items():
        source = source.replace(name, value)
    return source


# --- Setting them up ------------------------------------------------------------


def _write_executable(path: Path) -> None:
    # -S: no site-packages; the fake needs nothing beyond the standard library.
    path.write_text(f"#!{sys.executable} -S\n{fake_program()}")
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
        _write_executable(sandbox.docker_bin / "docker")
        _write_executable(sandbox.compose_v1_bin / "docker-compose")
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
    env: dict[str, str | None] = field(default_factory=dict)  # FAKE_DOCKER_RECORD_ENV

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
        calls.append(Call(record["program"], tuple(record["args"]), record["cwd"], record.get("env", {})))
    return calls

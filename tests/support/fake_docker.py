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
  FAKE_DOCKER_CONTAINERS  a JSON file: the engine's running containers, each
                          as `docker inspect` shows it ({"Id", "Name",
                          "Config": {"Labels"}, "Mounts": [{"Type",
                          "Source", "Destination"}]}, plus "Ports" as
                          `docker ps` prints them); default: none
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
  DOCKER_CONTEXT          as for the real CLI: a context other than
                          "default" and those FAKE_DOCKER_CONTEXTS lists
                          (comma-separated) does not exist, and every docker
                          command but `compose version` and `compose config`
                          fails with the real CLI's message (docker-compose,
                          Compose v1, ignores it). Without it, the
                          currentContext of $DOCKER_CONFIG/config.json
  DOCKER_HOST             the daemon a "down" daemon message names

The engine has only the running containers of FAKE_DOCKER_CONTAINERS:
`docker ps` lists them (-a, -q, --filter label=..., --format) and `docker
inspect` shows them by ID, ID prefix or name (--format), rendering the parts
of Go's templates the scripts use; a flag, filter or template action it does
not know is an error, never ignored. A name it does not know is "No such
object" (exit 1), as with the real CLI. `compose up/stop/down/logs/run` only
record their arguments. `docker events` streams nothing until it is
killed, as the real one with nothing to report.
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


def up_running(work):
    """Runs WORK as a running `up`. Two at once on one engine race each other
    (both create the network, then the same containers): the second notes it
    in FAKE_DOCKER_LOG.overlaps, which tests read."""
    marker = log + ".up-running" if log else None
    mine = False
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            mine = True
        except FileExistsError:
            with open(log + ".overlaps", "a", encoding="utf-8") as handle:
                handle.write(" ".join(args) + "\n")
    try:
        work()
    finally:
        if mine:
            os.unlink(marker)


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


def missing_context():
    """The context the CLI was told to use, if it does not exist: as the
    real CLI resolves it, DOCKER_CONTEXT, else (without DOCKER_HOST) the
    currentContext of config.json, read only from DOCKER_CONFIG: the
    developer's own ~/.docker stays out of the tests."""
    name = environ.get("DOCKER_CONTEXT", "")
    if not name and not environ.get("DOCKER_HOST") and environ.get("DOCKER_CONFIG"):
        try:
            with open(os.path.join(environ["DOCKER_CONFIG"], "config.json"), encoding="utf-8") as handle:
                name = json.load(handle).get("currentContext", "")
        except (OSError, ValueError):
            name = ""
    if name and name != "default" and name not in environ.get("FAKE_DOCKER_CONTEXTS", "").split(","):
        return name
    return None


def context_not_found(name):
    """What the real CLI (20.10 to 28) says about a context that does not exist, exit 1."""
    import hashlib
    config = environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    meta = os.path.join(config, "contexts", "meta", hashlib.sha256(name.encode()).hexdigest(), "meta.json")
    print('Failed to initialize: unable to resolve docker endpoint: context "' + name + '": context not found: '
          "open " + meta + ": no such file or directory", file=sys.stderr)
    return 1


def compose(version, args, plugin=False):
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in VALUE_OPTIONS else 1
    options, command = args[:index], args[index:]
    if command[:1] == ["version"]:
        print(version if "--short" in command else "Docker Compose version v" + version)
        return 0
    # The plugin reads its configuration without the engine, and needs the
    # engine's endpoint for everything else.
    if plugin and command[:1] != ["config"] and missing_context():
        return context_not_found(missing_context())
    failing = [name for name in environ.get("FAKE_DOCKER_COMPOSE_FAIL", "").split(",") if name]
    if command[:1] and command[0] in failing:
        print("Error response from daemon: fake failure of compose " + command[0], file=sys.stderr)
        return 1
    if command[:1] == ["config"]:
        return compose_config(options, command)
    if command[:1] == ["up"]:
        handle_signals_as_compose(program == "docker-compose")
        up_running(lambda: pause("FAKE_DOCKER_COMPOSE_SLEEP"))
    output = environ.get("FAKE_DOCKER_COMPOSE_OUTPUT")
    if output:
        with open(output, encoding="utf-8") as handle:
            sys.stdout.write(handle.read())
    return int(environ.get("FAKE_DOCKER_COMPOSE_STATUS", "0"))


def running_containers():
    path = environ.get("FAKE_DOCKER_CONTAINERS")
    if not path:
        return []
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class TemplateError(Exception):
    """A template Docker would not run: exit 1, as `docker ps/inspect` do."""


class UsageError(Exception):
    """A flag or filter docker does not take: exit 125, as the real CLI."""


def guarded(command, args):
    try:
        return command(args)
    except UsageError as error:
        print(str(error) + "\nSee 'docker " + command.__name__ + " --help'.", file=sys.stderr)
        return 125
    except TemplateError as error:
        print("template: " + str(error), file=sys.stderr)
        return 1


def parse_template(template):
    """Go template text into nodes: ("text", s), ("action", words),
    ("range", words, nodes)."""
    stack = [[]]
    for piece in re.split(r"({{.*?}})", template, flags=re.S):
        if not piece.startswith("{{"):
            if piece:
                stack[-1].append(("text", piece))
            continue
        words = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', piece[2:-2])
        if words[:1] == ["range"]:
            node = ("range", words[1:], [])
            stack[-1].append(node)
            stack.append(node[2])
        elif words == ["end"]:
            if len(stack) == 1:
                raise TemplateError("unexpected {{end}}")
            stack.pop()
        else:
            stack[-1].append(("action", words))
    if len(stack) != 1:
        raise TemplateError("unexpected EOF")
    return stack[0]


def term(word, dot, root):
    if word.startswith('"'):
        return word[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
    if word == ".":
        return dot
    if word.startswith("$"):
        value, path = root, word[1:]
    elif word.startswith("."):
        value, path = dot, word
    else:
        raise TemplateError("function " + repr(word) + " not defined")
    for name in [part for part in path.split(".") if part]:
        if not isinstance(value, dict) or name not in value:
            raise TemplateError("can't evaluate field " + name)
        value = value[name]
    return value


def evaluate(words, dot, root):
    if words[0] == "index":
        container, key = term(words[1], dot, root), term(words[2], dot, root)
        return (container or {}).get(key, "")
    if len(words) == 2 and words[0] == ".Label" and "Label" in dot:
        return dot["Label"].get(term(words[1], dot, root), "")
    if len(words) != 1:
        raise TemplateError("unsupported action: " + " ".join(words))
    return term(words[0], dot, root)


def execute(nodes, dot, root):
    out = []
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "range":
            for item in evaluate(node[1], dot, root) or []:
                out.append(execute(node[2], item, root))
        else:
            value = evaluate(node[1], dot, root)
            if not isinstance(value, (str, int)):
                raise TemplateError("the fake prints only strings and numbers, not " + repr(value))
            out.append(str(value))
    return "".join(out)


def render(template, data):
    return execute(parse_template(template), data, data)


def option_values(args, flags, value_options):
    """Docker's flags as {name: [values]}, or an error for an unknown one."""
    found, index = {}, 0
    operands = []
    while index < len(args):
        arg = args[index]
        name, equals, inline = arg.partition("=")
        if arg.startswith("-") and name in value_options:
            if not equals:
                if index + 1 == len(args):
                    raise UsageError("flag needs an argument: " + arg)
                index += 1
                inline = args[index]
            found.setdefault(value_options[name], []).append(inline)
        elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            for letter in arg[1:]:
                if "-" + letter not in flags:
                    raise UsageError("unknown shorthand flag: '" + letter + "' in " + arg)
                found.setdefault(flags["-" + letter], []).append(True)
        elif arg.startswith("-"):
            if arg not in flags:
                raise UsageError("unknown flag: " + arg)
            found.setdefault(flags[arg], []).append(True)
        else:
            operands.append(arg)
        index += 1
    return found, operands


def ps_view(container):
    """A container as `docker ps --format` sees it."""
    return {"ID": container["Id"][:12], "Names": container["Name"].lstrip("/"),
            "Ports": container.get("Ports", ""), "Label": container["Config"].get("Labels") or {}}


def ps(args):
    options, operands = option_values(
        args, {"-a": "all", "--all": "all", "-q": "quiet", "--quiet": "quiet", "--no-trunc": "no-trunc"},
        {"--filter": "filter", "-f": "filter", "--format": "format"})
    if operands:
        raise UsageError('"docker ps" accepts no arguments.')
    listed = []
    for container in running_containers():
        labels = container["Config"].get("Labels") or {}
        wanted = True
        for condition in options.get("filter", []):
            kind, _, value = condition.partition("=")
            if kind != "label":
                raise UsageError("fake docker: the filter " + kind + " is not modelled; add it to the fake")
            key, equals, label_value = value.partition("=")
            wanted = wanted and key in labels and (not equals or labels[key] == label_value)
        if wanted:
            listed.append(container)
    if "quiet" in options:
        for container in listed:
            print(container["Id"][:12])
    elif "format" in options:
        for container in listed:
            print(render(options["format"][-1], ps_view(container)))
    elif listed:
        raise UsageError("fake docker: ps without --format or -q is not modelled; add it to the fake")
    return 0


def inspect(args):
    options, names = option_values(args, {}, {"--format": "format", "-f": "format", "--type": "type"})
    if not names:
        print("\"docker inspect\" requires at least 1 argument.", file=sys.stderr)
        return 1
    containers, missing = running_containers(), []
    found = []
    for name in names:
        match = [c for c in containers if c["Name"] in (name, "/" + name) or c["Id"].startswith(name)]
        if match:
            found.append(match[0])
        else:
            missing.append(name)
    # As the real CLI: a template finding nothing prints one empty line,
    # and without one the JSON list is printed, [] included.
    if "format" in options:
        for container in found:
            print(render(options["format"][-1], container))
        if not found:
            print()
    else:
        print(json.dumps(found, indent=4))
    for name in missing:
        print("Error: No such object: " + name, file=sys.stderr)
    return 1 if missing else 0


def docker(args):
    if args[:1] == ["compose"]:
        if environ.get("FAKE_DOCKER_PLUGIN", "present") != "present":
            print(__NOT_A_DOCKER_COMMAND__, file=sys.stderr)
            return 1
        return compose(environ.get("FAKE_DOCKER_COMPOSE_VERSION", __COMPOSE_V2_VERSION__), args[1:], plugin=True)
    if missing_context():
        return context_not_found(missing_context())
    down = __DAEMON_DOWN__
    if environ.get("DOCKER_HOST"):
        down = "Cannot connect to the Docker daemon at " + environ["DOCKER_HOST"] + ". Is the docker daemon running?"
    problem = {"down": down, "denied": __PERMISSION_DENIED__, "silent": ""}.get(
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
            return 0
        return guarded(ps, args[1:])
    if args[:1] == ["inspect"]:
        return guarded(inspect, args[1:])
    if args[:1] == ["events"]:
        # A stream that ends only when it is killed, as the real one; nothing
        # the fake engine holds starts, dies or turns healthy.
        import time
        while True:
            time.sleep(3600)
    if args[:1] in (["port"], ["logs"], ["exec"]):
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

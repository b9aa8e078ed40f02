"""A fake `docker` and `docker-compose` for tests that need no Docker engine.

The fakes are tiny executables put first on PATH. Each call appends one JSON
line ({"program", "args", "cwd"}) to the file named by FAKE_DOCKER_LOG and
answers the way the real CLI does in the situation the environment describes:

  FAKE_DOCKER_PLUGIN      present (default): `docker compose` is Compose v2;
                          missing: `docker compose` is not a docker command
  FAKE_DOCKER_DAEMON      up (default) | down | denied (no docker group) |
                          silent (fails without a word)
  FAKE_DOCKER_PROJECT_DIR adds a stopped postgres container of the project,
                          started from that folder (another clone's stack)
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
  FAKE_DOCKER_CONTAINERS  a JSON file of the engine's containers and networks
                          (see "The engine's containers" below); without
                          it the engine has none

`docker ps`, `inspect`, `port`, `logs`, `stop`, `rm` and `network` answer
from those containers (ps: -a, -q, --filter label=..., --format; inspect by
ID, ID prefix or name); `--format` templates are rendered the way the real
CLI renders them, each object followed by a newline (so a template ending
in {{"\\n"}} leaves an empty last line, as it does on a real engine). A
flag, filter or template action the fake does not know is an error, never
ignored; a name it does not know is "No such object" (exit 1), as with the
real CLI. `compose down` removes the project's containers and networks as
Compose does (orphans: with --remove-orphans; v1 leaves them and fails on
the network they hold). `compose up/stop/logs/run` only record their
arguments. `docker events` streams nothing until it is killed, as the real
one with nothing to report.
`compose config` reads the compose files the way Compose picks them (-f,
COMPOSE_FILE, docker-compose.yml and its override; ports tagged !override
or !reset replace the earlier ones, and Compose v1 refuses the tag),
interpolates ${VAR:-x} from the environment, and prints services,
depends_on and ports in Compose v1's normalised form; `config --services`
prints the names.

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


def read_services(path, services, v1=False):
    """The services of one compose file (a subset of YAML: block style,
    two-space indents, short port strings), merged into SERVICES as Compose
    merges them: ports are appended, unless the override file tags them
    !override or !reset (Compose v2.24+; v1's YAML parser refuses the tag)."""
    section = name = None
    in_services = False
    for number, raw in enumerate(open(path, encoding="utf-8"), 1):
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
            tag = re.match(r"!(override|reset)\b\s*", inline)
            if tag:
                if v1:
                    print("yaml.constructor.ConstructorError: could not determine a constructor for the tag '"
                          + tag.group(0).strip() + "'\n  in \"./" + os.path.basename(path) + "\", line "
                          + str(number) + ", column " + str(line.index("!") + 1), file=sys.stderr)
                    raise SystemExit(1)
                if section in ("ports", "depends_on"):
                    services[name][section] = []
                inline = inline[tag.end():]
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


def configured_services(options, v1):
    """The services of the compose files Compose would read, or None (and a
    message) when one is missing."""
    services = {}
    for path in compose_files(options):
        if not os.path.exists(path):
            print("open " + os.path.abspath(path) + ": no such file or directory", file=sys.stderr)
            return None
        read_services(path, services, v1)
    return services


def compose_config(options, command, v1):
    services = configured_services(options, v1)
    if services is None:
        return 1
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


# --- The engine's containers and networks ------------------------------------
#
# FAKE_DOCKER_CONTAINERS names a JSON file {"containers": [...], "networks":
# [...]} that `compose down`, `docker stop` and `docker rm` rewrite, as the
# engine's state changes. A container (newest first) is
#   {"service": "redis", "state": "running", "health": "healthy" | null,
#    "health_log": ["probe output", ...], "restarts": 0,
#    "ports": ["127.0.0.1:41300:3000"], "logs": "text",
#    "project": ..., "working_dir": ..., "id": ..., "name": ...,
#    "mounts": [{"Type": "bind", "Source": ..., "Destination": ...}]}
# with only "service" required, for a container Compose started (labelled
# with its project, service and folder); a container Compose did not start
# has no "service" (and so no labels) but a "name". A network is {"name":
# ..., "project": ..., "foreign": ["name of a container of no project
# attached to it"]}. tests/e2e/test_fake_engine_answers_as_the_real_one.py
# builds such a container from a real one's `docker inspect` and checks
# that the fake answers the scripts' questions about it as the engine does.

def state_file():
    return environ.get("FAKE_DOCKER_CONTAINERS")


def default_project():
    return environ.get("COMPOSE_PROJECT_NAME") or "transbot"


def load_state():
    state = {"containers": [], "networks": []}
    path = state_file()
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            state.update(json.load(handle))
    folder = environ.get("FAKE_DOCKER_PROJECT_DIR")
    if folder:
        # One stopped container of the project, started from that folder.
        state["containers"].append({"service": "postgres", "state": "exited", "working_dir": folder,
                                    "id": "0f1e2d3c4b5a" + "0" * 52, "implicit": True})
    return state


def save_state(state):
    path = state_file()
    if not path:
        return
    kept = dict(state, containers=[c for c in state["containers"] if not c.get("implicit")])
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(kept, handle)
    os.replace(path + ".tmp", path)


def container_id(raw, index):
    return raw.get("id") or "%012x" % (0xc0 + index) + "f" * 52


def labels_of(raw):
    if "service" not in raw:
        return {}
    return {"com.docker.compose.project": raw.get("project") or default_project(),
            "com.docker.compose.service": raw["service"],
            "com.docker.compose.project.working_dir": raw.get("working_dir", os.getcwd()),
            "com.docker.compose.config-hash": "fakehash", "com.docker.compose.oneoff": "False"}


def name_of(raw):
    return raw.get("name") or (raw.get("project") or default_project()) + "-" + raw["service"] + "-1"


def published(raw):
    """(TARGET, HOST_IP, PUBLISHED) of each published port; only a running
    container has them."""
    if raw.get("state", "running") != "running":
        return []
    ports = []
    for port in raw.get("ports", []):
        parts = port.split("/")[0].rsplit(":", 2)  # [HOST_IP:]PUBLISHED:TARGET; HOST_IP may be [::]
        host_ip, host_port, target = parts if len(parts) == 3 else ["0.0.0.0"] + parts
        ports.append((target, host_ip, host_port))
    return ports


def inspected(raw, index):
    """The container as `docker inspect` has it (the fields the scripts read)."""
    health = raw.get("health")
    return {
        "ID": container_id(raw, index), "Name": "/" + name_of(raw), "RestartCount": raw.get("restarts", 0),
        "Config": {"Labels": labels_of(raw),
                   # The engine's default timings; none without a health state.
                   "Healthcheck": None if health is None else {"Test": ["CMD-SHELL", "true"]}},
        "Mounts": raw.get("mounts", []),
        "State": {"Status": raw.get("state", "running"),
                  "Health": None if health is None else {
                      "Status": health, "FailingStreak": 0 if health == "healthy" else 1,
                      "Log": [{"Output": output, "ExitCode": 0 if health == "healthy" else 1}
                              for output in raw.get("health_log", [])]}},
    }


def status_of(raw):
    """STATUS as `docker ps` words it: "Up 5 seconds (healthy)", "Exited (1) 5
    seconds ago", "Created", "Restarting (1) 2 seconds ago"."""
    state, health = raw.get("state", "running"), raw.get("health")
    if state == "running":
        words = {None: "", "healthy": " (healthy)", "starting": " (health: starting)",
                 "unhealthy": " (unhealthy)"}.get(health, f" ({health})")
        return "Up 5 seconds" + words
    if state == "created":
        return "Created"
    if state == "restarting":
        return "Restarting (1) 2 seconds ago"
    if state == "paused":
        return "Up 5 seconds (Paused)"
    return "Exited (1) 5 seconds ago"


def listed(raw, index):
    """The container as a row of `docker ps` has it."""
    return {"ID": container_id(raw, index)[:12], "Names": name_of(raw), "Labels": labels_of(raw),
            "State": raw.get("state", "running"), "Status": status_of(raw),
            "Image": raw.get("image", "transbot-standin/" + raw.get("service", "none") + ":fake"),
            "Ports": ", ".join(f"{ip}:{port}->{target}/tcp" for target, ip, port in published(raw))}


def find(state, reference):
    """The index of the container an id (or its prefix) or a name refers to."""
    for index, raw in enumerate(state["containers"]):
        if reference and (container_id(raw, index).startswith(reference) or reference in (name_of(raw), "/" + name_of(raw))):
            return index
    return None


# --- Go templates ------------------------------------------------------------
#
# The subset of Go's text/template that `--format` is given: fields (.A.B,
# and $.A.B from the object a range started from), if/else/end, range/end,
# index, len, printf "%q"/"%s", json, string literals and a ps row's .Label
# "key". Anything else is refused, as the real CLI refuses
# a template it cannot parse, so a script cannot rely on what the fake does
# not check.

class TemplateError(Exception):
    pass


def parse_template(text):
    tokens = re.split(r"(\{\{.*?\}\})", text, flags=re.S)

    def parse(position, stops):
        nodes = []
        while position < len(tokens):
            token = tokens[position]
            if token.startswith("{{"):
                action = token[2:-2].strip()
                word = action.split(None, 1)[0] if action else ""
                if word in ("end", "else"):
                    if word not in stops:
                        raise TemplateError("unexpected {{" + word + "}}")
                    return nodes, position, word
                if word in ("if", "range"):
                    body, position, ended = parse(position + 1, ("end", "else"))
                    other = []
                    if ended == "else":
                        other, position, ended = parse(position + 1, ("end",))
                    nodes.append((word, action[len(word):].strip(), body, other))
                else:
                    nodes.append(("action", action))
            elif token:
                nodes.append(("text", token))
            position += 1
        if stops:
            raise TemplateError("unexpected EOF")
        return nodes, position, None

    return parse(0, ())[0]


def go_literal(word):
    if not (len(word) >= 2 and word[0] == word[-1] == '"'):
        raise TemplateError("not a string: " + word)
    escapes = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", '"': '"', "\\": "\\"}

    def unescaped(match):
        if match.group(1).startswith("x"):
            return chr(int(match.group(1)[1:], 16))
        if match.group(1) not in escapes:
            raise TemplateError("invalid syntax: " + word)
        return escapes[match.group(1)]
    return re.sub(r'\\(x[0-9a-fA-F]{2}|.)', unescaped, word[1:-1])


def go_quote(text):
    """Go's %q: a double-quoted string with Go's escapes."""
    named = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r",
             "\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}
    out = []
    for char in text:
        if char in named:
            out.append(named[char])
        elif ord(char) < 0x20 or ord(char) == 0x7f:
            out.append("\\x%02x" % ord(char))
        elif not char.isprintable():
            out.append("\\u%04x" % ord(char) if ord(char) <= 0xffff else "\\U%08x" % ord(char))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def field(dot, chain):
    value = dot
    for name in [part for part in chain.split(".") if part]:
        if not isinstance(value, dict):
            raise TemplateError("nil pointer evaluating ." + name if value is None else "can't evaluate field " + name)
        if name not in value:
            raise TemplateError("can't evaluate field " + name)
        value = value[name]
    return value


def argument(word, dot, root):
    if word.startswith('"'):
        return go_literal(word)
    if word == "$" or word.startswith("$."):
        return field(root, word[1:])
    if not word.startswith("."):
        raise TemplateError('function "' + word + '" not defined')
    return field(dot, word)


def evaluate(action, dot, root):
    words = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', action)
    head, rest = words[0], words[1:]
    if head == "index" and len(rest) == 2:
        return (argument(rest[0], dot, root) or {}).get(argument(rest[1], dot, root), "")
    if head == "len" and len(rest) == 1:
        return len(argument(rest[0], dot, root) or [])
    if head == "printf" and rest:
        form, values = go_literal(rest[0]), [argument(word, dot, root) for word in rest[1:]]
        if form.count("%") != len(values) or re.search(r"%[^qs]", form):
            raise TemplateError("unsupported printf " + form)
        return re.sub(r"%[qs]", lambda m: go_quote(values.pop(0)) if m.group(0) == "%q" else render_value(values.pop(0)), form)
    if head == "println":
        return " ".join(render_value(argument(word, dot, root)) for word in rest) + "\n"
    if head == "json" and len(rest) == 1:
        return json.dumps(argument(rest[0], dot, root))
    if head == ".Label" and len(rest) == 1 and "Labels" in dot:
        return dot["Labels"].get(go_literal(rest[0]), "")
    if rest or not (head.startswith((".", '"', "$"))):
        raise TemplateError("unsupported action: " + action)
    return argument(head, dot, root)


def render_value(value):
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{render_value(value[key])}" for key in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(render_value(item) for item in value) + "]"
    return str(value)


def render(nodes, dot, root=None):
    root = dot if root is None else root
    out = []
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "action":
            out.append(render_value(evaluate(node[1], dot, root)))
        elif node[0] == "if":
            out.append(render(node[2] if evaluate(node[1], dot, root) else node[3], dot, root))
        else:
            items = evaluate(node[1], dot, root)
            items = [items[key] for key in sorted(items)] if isinstance(items, dict) else items or []
            out.append("".join(render(node[2], item, root) for item in items) if items
                       else render(node[3], dot, root))
    return "".join(out)


def print_formatted(template, objects):
    """Each object through TEMPLATE, each followed by a newline, as the CLI
    prints it: a template that ends in "\\n" leaves an empty last line."""
    try:
        nodes = parse_template(template)
        text = "".join(render(nodes, item) + "\n" for item in objects)
    except TemplateError as problem:
        print("template parsing error: template: :1: " + str(problem), file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


def option_values(args, *names):
    values, rest, index = [], [], 0
    while index < len(args):
        if args[index] in names:
            values.append(args[index + 1])
            index += 2
        elif any(args[index].startswith(name + "=") for name in names):
            values.append(args[index].split("=", 1)[1])
            index += 1
        else:
            rest.append(args[index])
            index += 1
    return values, rest


def matches(labels, filters):
    for wanted in filters:
        kind, _, value = wanted.partition("=")
        if kind != "label":
            raise SystemExit("fake docker: unsupported filter " + wanted)
        key, equals, expected = value.partition("=")
        if key not in labels or (equals and labels[key] != expected):
            return False
    return True


class UsageError(Exception):
    """A flag or argument docker does not take: exit 125, as the real CLI."""


def guarded(command, args):
    """COMMAND(ARGS), with the real CLI's answer to a usage error."""
    try:
        return command(args)
    except UsageError as error:
        print(str(error) + "\nSee 'docker " + args[0] + " --help'.", file=sys.stderr)
        return 125


def docker_flags(args, flags, value_options):
    """Docker's flags as ({name: [values]}, operands); a flag the command
    does not take is a usage error, never ignored."""
    found, operands, index = {}, [], 0
    while index < len(args):
        arg = args[index]
        name, equals, inline = arg.partition("=")
        if arg == "--":
            # The end of the flags, as for the real CLI: the rest are operands.
            operands.extend(args[index + 1:])
            break
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


def docker_ps(args):
    options, operands = docker_flags(
        args[1:], {"-a": "all", "--all": "all", "-q": "quiet", "--quiet": "quiet", "--no-trunc": "no-trunc"},
        {"--filter": "filter", "-f": "filter", "--format": "format"})
    if operands:
        raise UsageError('"docker ps" accepts no arguments.')
    state = load_state()
    rows = [listed(raw, index) for index, raw in enumerate(state["containers"])
            if ("all" in options or raw.get("state", "running") == "running")
            and matches(labels_of(raw), options.get("filter", []))]
    if "quiet" in options:
        sys.stdout.write("".join(row["ID"] + "\n" for row in rows))
        return 0
    if "format" not in options:
        raise SystemExit("fake docker: ps without --format or -q is not modelled; add it to the fake")
    return print_formatted(options["format"][-1], rows)


def docker_inspect(args):
    options, references = docker_flags(args[1:], {}, {"--format": "format", "-f": "format", "--type": "type"})
    if not references:
        raise UsageError('"docker inspect" requires at least 1 argument.')
    state = load_state()
    found = [inspected(state["containers"][find(state, reference)], find(state, reference))
             for reference in references if find(state, reference) is not None]
    if "format" not in options:
        # The JSON names the ID "Id"; a template reaches it as .ID.
        print(json.dumps([{("Id" if key == "ID" else key): value for key, value in container.items()}
                          for container in found], indent=4))
    elif not found:
        # As the real CLI: a template that finds nothing prints one empty line.
        print()
    elif print_formatted(options["format"][-1], found):
        return 1
    missing = [reference for reference in references if find(state, reference) is None]
    for reference in missing:
        print("Error: No such object: " + reference, file=sys.stderr)
    return 1 if missing else 0


def docker_image(args):
    """`image inspect` of the images the fake engine holds (state "images":
    {"name": "postgres:17-alpine", "env": ["PG_MAJOR=17", ...]}), strict as
    the real CLI: a name without a tag means :latest, and a missing image is
    an error on stderr with exit 1 after whatever was found is printed."""
    if args[1:2] != ["inspect"]:
        raise SystemExit("fake docker: only `image inspect` is supported")
    options, references = docker_flags(args[2:], {}, {"--format": "format", "-f": "format"})
    if not references:
        raise UsageError('"docker image inspect" requires at least 1 argument.')
    images = load_state().get("images", [])

    def named(reference):
        wanted = reference if ":" in reference.rsplit("/", 1)[-1] else reference + ":latest"
        return next((image for image in images if image["name"] == wanted), None)

    found = [{"Id": "sha256:" + "%064x" % index, "RepoTags": [image["name"]], "Config": {"Env": image.get("env", [])}}
             for index, image in enumerate(images) if any(named(r) is image for r in references)]
    if "format" not in options:
        print(json.dumps(found, indent=4))
    elif found and print_formatted(options["format"][-1], found):
        return 1
    missing = [reference for reference in references if named(reference) is None]
    for reference in missing:
        print("Error response from daemon: No such image: " + reference, file=sys.stderr)
    return 1 if missing else 0


def docker_port(args):
    state = load_state()
    index = find(state, args[1]) if len(args) > 1 else None
    if index is None:
        print("Error: No such container: " + (args[1] if len(args) > 1 else ""), file=sys.stderr)
        return 1
    raw = state["containers"][index]
    ports = published(raw)
    if len(args) > 2:
        wanted = args[2].split("/")[0]
        addresses = [f"{ip}:{port}" for target, ip, port in ports if target == wanted]
        if not addresses:
            print(f"Error: No public port '{args[2]}' published for {name_of(raw)}", file=sys.stderr)
            return 1
        print("\n".join(addresses))
        return 0
    for target, ip, port in ports:
        print(f"{target}/tcp -> {ip}:{port}")
    return 0


def docker_logs(args):
    options, references = docker_flags(args[1:], {"-f": "follow", "--follow": "follow", "-t": "timestamps",
                                                  "--timestamps": "timestamps"},
                                       {"--tail": "tail", "-n": "tail", "--since": "since"})
    if len(references) != 1:
        raise UsageError('"docker logs" requires exactly 1 argument.')
    state = load_state()
    index = find(state, references[0])
    if index is None:
        print("Error: No such container: " + references[0], file=sys.stderr)
        return 1
    lines = state["containers"][index].get("logs", "").splitlines(True)
    tails = options.get("tail", [])
    if tails and tails[0] != "all":
        lines = lines[-int(tails[0]):] if int(tails[0]) else []
    sys.stdout.write("".join(lines))
    return 0


def docker_stop_or_rm(args):
    if args[0] == "stop":
        options, references = docker_flags(args[1:], {}, {"--time": "time", "-t": "time"})
    else:
        options, references = docker_flags(args[1:], {"-f": "force", "--force": "force"}, {})
    if not references:
        raise UsageError('"docker ' + args[0] + '" requires at least 1 argument.')
    state = load_state()
    status = 0
    for reference in references:
        index = find(state, reference)
        if index is None:
            print("Error response from daemon: No such container: " + reference, file=sys.stderr)
            status = 1
        elif args[0] == "stop":
            state["containers"][index]["state"] = "exited"
            print(reference)
        elif state["containers"][index].get("state", "running") == "running" and "force" not in options:
            print("Error response from daemon: cannot remove container: container is running: stop the container"
                  " before removing or force remove", file=sys.stderr)
            status = 1
        else:
            del state["containers"][index]
            print(reference)
    save_state(state)
    return status


def network_members(state, network):
    """The names of the containers attached to NETWORK: its project's, and
    the foreign ones."""
    project = network.get("project")
    return [name_of(raw) for raw in state["containers"]
            if project and labels_of(raw)["com.docker.compose.project"] == project] + network.get("foreign", [])


def network_labels(network):
    return {"com.docker.compose.project": network["project"]} if network.get("project") else {}


def docker_network(args):
    state = load_state()
    networks = state["networks"]
    if args[1:2] == ["ls"]:
        filters, rest = option_values(args[2:], "--filter", "-f")
        if "-q" not in rest:
            raise SystemExit("fake docker: network ls without -q is not supported")
        for network in networks:
            if matches(network_labels(network), filters):
                print(network.get("id") or network["name"])
        return 0
    if args[1:2] == ["inspect"]:
        formats, references = option_values(args[2:], "--format", "-f")
        found = [n for n in networks if n["name"] in references or n.get("id") in references]
        objects = [{"Name": n["name"], "Labels": network_labels(n),
                    "Containers": {"%064x" % i: {"Name": member} for i, member in enumerate(network_members(state, n))}}
                   for n in found]
        if print_formatted(formats[0] if formats else "{{json .}}", objects):
            return 1
        if len(found) < len(references):
            print("Error: No such network", file=sys.stderr)
            return 1
        return 0
    if args[1:2] == ["rm"]:
        status = 0
        for reference in args[2:]:
            matching = [n for n in networks if reference in (n["name"], n.get("id"))]
            if not matching:
                print("Error response from daemon: network " + reference + " not found", file=sys.stderr)
                status = 1
            elif network_members(state, matching[0]):
                print("Error response from daemon: error while removing network: network " + reference
                      + " has active endpoints", file=sys.stderr)
                status = 1
            else:
                networks.remove(matching[0])
                print(reference)
        save_state(state)
        return status
    return 0


def compose_project(options):
    values, _ = option_values(options, "-p", "--project-name")
    return values[-1] if values else environ.get("COMPOSE_PROJECT_NAME") or os.path.basename(os.getcwd())


def compose_down(options, command, v1):
    """Removes the project's containers and then its networks, as Compose
    does. Containers of services the configuration no longer has (orphans)
    go too with --remove-orphans; without it Compose v1 leaves them, and
    then cannot remove the network they are on (exit 1), while Compose
    v2.40 removes them anyway."""
    services = configured_services(options, v1)
    if services is None:
        return 1
    state = load_state()
    project = compose_project(options)
    mine = [raw for raw in state["containers"] if labels_of(raw)["com.docker.compose.project"] == project]
    orphans = [raw for raw in mine if raw["service"] not in services]
    keep = orphans if v1 and "--remove-orphans" not in command else []
    if keep:
        print("Found orphan containers (" + ", ".join(name_of(raw) for raw in keep) + ") for this project. If you "
              "removed or renamed this service in your compose file, you can run this command with the "
              "--remove-orphans flag to clean it up.", file=sys.stderr)
    for raw in mine:
        if raw not in keep:
            state["containers"].remove(raw)
            print("Removing " + name_of(raw) + " ... done" if v1 else " Container " + name_of(raw) + "  Removed",
                  file=sys.stderr)
    status = 0
    for network in [n for n in state["networks"] if n.get("project") == project]:
        if network_members(state, network):
            if v1:
                print("error while removing network: network " + network["name"] + " id "
                      + network.get("id", network["name"]) + " has active endpoints", file=sys.stderr)
                status = 1
            else:
                print(" Network " + network["name"] + "  Resource is still in use", file=sys.stderr)
        else:
            state["networks"].remove(network)
    save_state(state)
    return status


# --- The programs -------------------------------------------------------------

def compose(version, args, plugin=False):
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in VALUE_OPTIONS else 1
    options, command = args[:index], args[index:]
    v1 = version.startswith("1.")
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
        return compose_config(options, command, v1)
    if command[:1] == ["up"]:
        handle_signals_as_compose(program == "docker-compose")
        up_running(lambda: pause("FAKE_DOCKER_COMPOSE_SLEEP"))
    status = compose_down(options, command, v1) if command[:1] == ["down"] else 0
    output = environ.get("FAKE_DOCKER_COMPOSE_OUTPUT")
    if output:
        with open(output, encoding="utf-8") as handle:
            sys.stdout.write(handle.read())
    return status or int(environ.get("FAKE_DOCKER_COMPOSE_STATUS", "0"))


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
    handlers = {"ps": docker_ps, "inspect": docker_inspect, "port": docker_port, "logs": docker_logs,
                "stop": docker_stop_or_rm, "rm": docker_stop_or_rm, "network": docker_network,
                "image": docker_image}
    if args[:1] and args[0] in handlers:
        return guarded(handlers[args[0]], args)
    if args[:1] == ["events"]:
        # A stream that ends only when it is killed, as the real one; nothing
        # the fake engine holds starts, dies or turns healthy.
        import time
        while True:
            time.sleep(3600)
    if args[:1] == ["exec"]:
        print("Error: No such container: " + (args[-1] if len(args) > 1 else ""), file=sys.stderr)
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

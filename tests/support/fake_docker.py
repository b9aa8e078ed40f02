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
  FAKE_DOCKER_COMPOSE_SLEEP  seconds `compose up` takes
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
  FAKE_DOCKER_CONTAINERS  a JSON file of the engine's containers and networks
                          (see "The engine's containers" below); without
                          it the engine has none

`docker ps`, `inspect`, `port`, `logs`, `stop`, `rm` and `network` answer
from those containers; `--format` templates are rendered the way the real
CLI renders them, each object followed by a newline (so a template ending
in {{"\\n"}} leaves an empty last line, as it does on a real engine), and a
template the fake cannot render is an error, not an empty answer.
`compose down` removes the project's containers and networks as Compose
does (orphans: with --remove-orphans; v1 leaves them and fails on the
network they hold). `compose up/stop/logs/run` only record their arguments.
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


# --- The engine's containers and networks ------------------------------------
#
# FAKE_DOCKER_CONTAINERS names a JSON file {"containers": [...], "networks":
# [...]} that `compose down`, `docker stop` and `docker rm` rewrite, as the
# engine's state changes. A container (newest first) is
#   {"service": "redis", "state": "running", "health": "healthy" | null,
#    "health_log": ["probe output", ...], "restarts": 0,
#    "ports": ["127.0.0.1:41300:3000"], "logs": "text",
#    "project": ..., "working_dir": ..., "id": ..., "name": ...}
# with only "service" required; a network {"name": ..., "project": ...,
# "foreign": ["name of a container of no project attached to it"]}.

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
    return {"com.docker.compose.project": raw.get("project") or default_project(),
            "com.docker.compose.service": raw["service"],
            "com.docker.compose.project.working_dir": raw.get("working_dir", os.getcwd()),
            "com.docker.compose.config-hash": "fakehash"}


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
        "Config": {"Labels": labels_of(raw)},
        "State": {"Status": raw.get("state", "running"),
                  "Health": None if health is None else {
                      "Status": health, "FailingStreak": 0 if health == "healthy" else 1,
                      "Log": [{"Output": output, "ExitCode": 0 if health == "healthy" else 1}
                              for output in raw.get("health_log", [])]}},
    }


def listed(raw, index):
    """The container as a row of `docker ps` has it."""
    return {"ID": container_id(raw, index)[:12], "Names": name_of(raw), "Labels": labels_of(raw),
            "State": raw.get("state", "running"),
            "Ports": ", ".join(f"{ip}:{port}->{target}/tcp" for target, ip, port in published(raw))}


def find(state, reference):
    """The index of the container an id (or its prefix) or a name refers to."""
    for index, raw in enumerate(state["containers"]):
        if reference and (container_id(raw, index).startswith(reference) or reference in (name_of(raw), "/" + name_of(raw))):
            return index
    return None


# --- Go templates ------------------------------------------------------------
#
# The subset of Go's text/template that `--format` is given: fields (.A.B),
# if/else/end, range/end, index, printf "%q"/"%s", json, string literals and
# a ps row's .Label "key". Anything else is refused, as the real CLI refuses
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
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r'\\(.)', lambda match: escapes[match.group(1)], word[1:-1])


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


def argument(word, dot):
    return go_literal(word) if word.startswith('"') else field(dot, word)


def evaluate(action, dot):
    words = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', action)
    head, rest = words[0], words[1:]
    if head == "index" and len(rest) == 2:
        return (argument(rest[0], dot) or {}).get(argument(rest[1], dot), "")
    if head == "printf" and rest:
        form, values = go_literal(rest[0]), [argument(word, dot) for word in rest[1:]]
        if form.count("%") != len(values) or re.search(r"%[^qs]", form):
            raise TemplateError("unsupported printf " + form)
        return re.sub(r"%[qs]", lambda m: go_quote(values.pop(0)) if m.group(0) == "%q" else render_value(values.pop(0)), form)
    if head == "json" and len(rest) == 1:
        return json.dumps(argument(rest[0], dot))
    if head == ".Label" and len(rest) == 1 and "Labels" in dot:
        return dot["Labels"].get(go_literal(rest[0]), "")
    if rest or not (head.startswith(".") or head.startswith('"')):
        raise TemplateError("unsupported action: " + action)
    return argument(head, dot)


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


def render(nodes, dot):
    out = []
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "action":
            out.append(render_value(evaluate(node[1], dot)))
        elif node[0] == "if":
            out.append(render(node[2] if evaluate(node[1], dot) else node[3], dot))
        else:
            items = evaluate(node[1], dot)
            items = [items[key] for key in sorted(items)] if isinstance(items, dict) else items or []
            out.append("".join(render(node[2], item) for item in items) if items else render(node[3], dot))
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


def docker_ps(args):
    state = load_state()
    filters, rest = option_values(args[1:], "--filter", "-f")
    formats, rest = option_values(rest, "--format")
    every = any(flag in rest for flag in ("-a", "--all", "-aq", "-qa"))
    quiet = any(flag in rest for flag in ("-q", "--quiet", "-aq", "-qa"))
    rows = [listed(raw, index) for index, raw in enumerate(state["containers"])
            if (every or raw.get("state", "running") == "running") and matches(labels_of(raw), filters)]
    if quiet:
        sys.stdout.write("".join(row["ID"] + "\n" for row in rows))
        return 0
    if not formats:
        raise SystemExit("fake docker: ps without --format or -q is not supported")
    return print_formatted(formats[0], rows)


def docker_inspect(args):
    state = load_state()
    formats, references = option_values(args[1:], "--format", "-f")
    found, status = [], 0
    for reference in references:
        index = find(state, reference)
        if index is None:
            status = 1
        else:
            found.append(inspected(state["containers"][index], index))
    if not formats:
        print(json.dumps(found, indent=4))
    elif print_formatted(formats[0], found):
        return 1
    for reference in references:
        if find(state, reference) is None:
            print("Error: No such object: " + reference, file=sys.stderr)
    return status


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
    state = load_state()
    index = find(state, args[-1]) if len(args) > 1 else None
    if index is None:
        print("Error: No such container: " + (args[-1] if len(args) > 1 else ""), file=sys.stderr)
        return 1
    lines = state["containers"][index].get("logs", "").splitlines(True)
    tails, _ = option_values(args[1:-1], "--tail", "-n")
    if tails and tails[0] != "all":
        lines = lines[-int(tails[0]):] if int(tails[0]) else []
    sys.stdout.write("".join(lines))
    return 0


def docker_stop_or_rm(args):
    state = load_state()
    _, references = option_values(args[1:], "--time", "-t")
    references = [reference for reference in references if not reference.startswith("-")]
    status = 0
    for reference in references:
        index = find(state, reference)
        if index is None:
            print("Error response from daemon: No such container: " + reference, file=sys.stderr)
            status = 1
        elif args[0] == "stop":
            state["containers"][index]["state"] = "exited"
            print(reference)
        elif state["containers"][index].get("state", "running") == "running" and "-f" not in args:
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

def compose(version, args):
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in VALUE_OPTIONS else 1
    options, command = args[:index], args[index:]
    v1 = version.startswith("1.")
    if command[:1] == ["version"]:
        print(version if "--short" in command else "Docker Compose version v" + version)
        return 0
    failing = [name for name in environ.get("FAKE_DOCKER_COMPOSE_FAIL", "").split(",") if name]
    if command[:1] and command[0] in failing:
        print("Error response from daemon: fake failure of compose " + command[0], file=sys.stderr)
        return 1
    if command[:1] == ["config"]:
        return compose_config(options, command, v1)
    if command[:1] == ["up"]:
        pause("FAKE_DOCKER_COMPOSE_SLEEP")
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
    handlers = {"ps": docker_ps, "inspect": docker_inspect, "port": docker_port, "logs": docker_logs,
                "stop": docker_stop_or_rm, "rm": docker_stop_or_rm, "network": docker_network}
    if args[:1] and args[0] in handlers:
        return handlers[args[0]](args)
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

"""Running the real scripts from a repository copy against the fake docker.

A Harness belongs to one test: a fresh copy of the repository, a working
directory outside it, and a log of every docker call. Every run checks that
no secret from the copy's .env.infra shows up in the output.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from support.engine import REPO_ROOT, finish, free_port
from support.fake_docker import Call, DockerSandbox, read_calls
from support.stack import PORT_VARIABLES, Result

SCRIPTS = ("start.sh", "stop.sh", "restart.sh", "logs.sh", "reset.sh", "health-check.sh")
# The scripts that refuse to run without a valid .env.infra.
ENV_CHECKING_SCRIPTS = ("start.sh", "restart.sh", "health-check.sh")
# The scripts that accept --timeout SECONDS.
TIMEOUT_SCRIPTS = ("start.sh", "restart.sh", "health-check.sh")

PLACEHOLDER = "change-me"
EXAMPLE_TEXT = (REPO_ROOT / ".env.infra.example").read_text()
EXAMPLE_KEYS = re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=", EXAMPLE_TEXT, re.M)
SECRET_NAMES = re.findall(rf"^([A-Za-z_][A-Za-z0-9_]*)={PLACEHOLDER}$", EXAMPLE_TEXT, re.M)

ANSI_ESCAPE = re.compile(r"\x1b\[")

# Variables of the developer's shell that would change what the scripts do.
_SCRUBBED_PREFIXES = ("COMPOSE_", "DOCKER_", "FAKE_DOCKER_")
_SCRUBBED = {"NO_COLOR", "BIND_ADDRESS", *EXAMPLE_KEYS, *PORT_VARIABLES.values()}


@dataclass(frozen=True)
class Docker:
    """What the machine has: the docker CLI, the Compose plugin, docker-compose
    (v1) and a daemon that is up, down or refuses this user."""

    installed: bool = True
    plugin: bool = True
    compose_v1: bool = False
    daemon: str = "up"


V2 = Docker()
BOTH = Docker(compose_v1=True)
V1_ONLY = Docker(plugin=False, compose_v1=True)
NO_COMPOSE = Docker(plugin=False)
NO_DOCKER = Docker(installed=False, plugin=False)
DAEMON_DOWN = Docker(daemon="down")
DAEMON_DENIED = Docker(daemon="denied")


def generated_secret(name: str) -> str:
    if name == "LANGFUSE_ENCRYPTION_KEY":
        return secrets.token_hex(32)
    if name == "LANGFUSE_PUBLIC_KEY":
        return f"pk-lf-{uuid.uuid4()}"
    if name == "LANGFUSE_SECRET_KEY":
        return f"sk-lf-{uuid.uuid4()}"
    return secrets.token_hex(16)


def env_text(changes: dict[str, str | None] | None = None, *, example: str = EXAMPLE_TEXT) -> str:
    """The EXAMPLE's text with its placeholders filled with fresh secrets
    and CHANGES applied: KEY -> raw text after "KEY=", or None to drop the line.
    A key the example does not have is appended."""
    changes = dict(changes or {})
    lines = []
    for line in example.splitlines():
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match:
            key, value = match.groups()
            if key in changes:
                replacement = changes.pop(key)
                if replacement is None:
                    continue
                line = f"{key}={replacement}"
            elif value == PLACEHOLDER:
                line = f"{key}={generated_secret(key)}"
        lines.append(line)
    lines += [f"{key}={value}" for key, value in changes.items() if value is not None]
    return "\n".join(lines) + "\n"


def parse_env(text: str) -> dict[str, str]:
    """KEY=value lines of an env file, quotes and a stray CR removed."""
    values = {}
    for line in text.splitlines():
        match = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", line)
        if match:
            value = match.group(2).strip().rstrip("\r")
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[match.group(1)] = value
    return values


def secret_values(text: str) -> dict[str, str]:
    """The secrets of an env file worth looking for in output."""
    values = parse_env(text)
    return {name: values[name] for name in SECRET_NAMES
            if len(values.get(name, "")) >= 6 and values[name] != PLACEHOLDER}


def tree_state(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ROOT with its mode and content, to compare later."""
    state = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() or path.is_symlink():
            stat = path.lstat()
            state[str(path.relative_to(root))] = (stat.st_mode, path.read_bytes() if path.is_file() else b"")
    return state


class ScriptResult(Result):
    """A Result that shows the whole run (command, exit, output) in a failed assert."""

    def __repr__(self) -> str:
        return "\n" + str(self)


class Harness:
    def __init__(self, repo: Path, sandbox: DockerSandbox, workdir: Path, log: Path):
        self.repo = repo
        self.sandbox = sandbox
        self.workdir = workdir
        self.log = log

    # --- The copy's .env.infra ------------------------------------------------

    @property
    def env_file(self) -> Path:
        return self.repo / ".env.infra"

    def write_env(self, changes: dict[str, str | None] | None = None) -> bytes:
        """Writes a private .env.infra from the copy's example, valid unless
        CHANGES break it, and returns its bytes. Its ports are free ones
        unless CHANGES set them."""
        changes = dict(changes or {})
        for variable in PORT_VARIABLES.values():
            changes.setdefault(variable, str(free_port()))
        data = env_text(changes, example=(self.repo / ".env.infra.example").read_text()).encode()
        self.env_file.write_bytes(data)
        self.env_file.chmod(0o600)
        return data

    def secrets(self) -> dict[str, str]:
        return secret_values(self.env_file.read_text()) if self.env_file.exists() else {}

    # --- Running ---------------------------------------------------------------

    def env(self, docker: Docker = V2, **overrides: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if key not in _SCRUBBED and not key.startswith(_SCRUBBED_PREFIXES)}
        env["PATH"] = self.sandbox.path(docker=docker.installed, compose_v1=docker.compose_v1)
        env["FAKE_DOCKER_LOG"] = str(self.log)
        env["FAKE_DOCKER_PLUGIN"] = "present" if docker.plugin else "missing"
        env["FAKE_DOCKER_DAEMON"] = docker.daemon
        env.update(overrides)
        return env

    def free_ports_env(self) -> dict[str, str]:
        return {variable: str(free_port()) for variable in PORT_VARIABLES.values()}

    def run(self, script: str, *args: str, docker: Docker = V2, env: dict[str, str] | None = None,
            program: str | Path | None = None, cwd: Path | None = None, close_stdin: bool = False,
            umask: int | None = None, timeout: float = 60) -> ScriptResult:
        """Runs scripts/SCRIPT (or PROGRAM, e.g. a symlink to it) with stdin
        not a terminal (or closed), from a directory outside the repository."""
        executable = str(program) if program is not None else str(self.repo / "scripts" / script)
        command = [executable, *args]
        if close_stdin:
            command = ["bash", "-c", 'exec 0<&-; exec "$@"', "closed-stdin", *command]
        if umask is not None:
            command = ["bash", "-c", f'umask {umask:03o}; exec "$@"', "with-umask", *command]
        before = self.secrets()
        # In a group of its own: a script that outlives TIMEOUT (a planted
        # defect, say) is killed with what it started, and nothing of it
        # goes on running after the test.
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
            env=self.env(docker, **(env or {})), cwd=cwd or self.workdir, stdin=subprocess.DEVNULL,
        )
        stdout, stderr = finish(process, timeout)
        result = ScriptResult([executable, *args], process.returncode, stdout, stderr)
        for name, value in {**before, **self.secrets()}.items():
            assert value not in result.output, f"the value of {name} was printed:\n{result}"
        return result

    # --- The fake engine's containers -----------------------------------------

    @property
    def engine_file(self) -> Path:
        return self.log.parent / "fake-engine.json"

    def set_engine(self, containers: list[dict] = (), networks: list[dict] = (),
                   images: list[dict] = ()) -> dict[str, str]:
        """Gives the fake engine CONTAINERS (newest first, as
        tests/support/fake_docker.py describes them; started from this copy
        unless they say otherwise), NETWORKS and IMAGES ({"name", "env"}),
        and returns the environment that points the fake at them."""
        containers = [{"working_dir": str(self.repo), **container} for container in containers]
        state = {"containers": containers, "networks": list(networks)}
        if images:
            state["images"] = list(images)
        self.engine_file.write_text(json.dumps(state))
        return {"FAKE_DOCKER_CONTAINERS": str(self.engine_file)}

    def engine(self) -> dict:
        """The fake engine's containers and networks now."""
        return json.loads(self.engine_file.read_text())

    # --- What docker was asked ------------------------------------------------

    def calls(self) -> list[Call]:
        return read_calls(self.log)

    def compose_calls(self) -> list[Call]:
        """Calls that ran a Compose subcommand that acts on the stack: the
        read-only `version` and `config` queries are left out."""
        return [call for call in self.calls()
                if call.is_compose and call.compose_command[:1] not in (["version"], ["config"])]

    def config_calls(self) -> list[Call]:
        """`compose config` queries: how the scripts learn services, dependencies and ports."""
        return [call for call in self.calls() if call.is_compose and call.compose_command[:1] == ["config"]]

    def compose_commands(self) -> list[list[str]]:
        return [call.compose_command for call in self.compose_calls()]

    def compose_up_calls(self) -> list[Call]:
        return [call for call in self.compose_calls() if call.compose_command[:1] == ["up"]]


def one_line_error(result: Result) -> str:
    """The single line a usage error prints on stderr (asserts there is one)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr:\n{result}"
    assert lines[0].startswith("error: "), result
    return lines[0]


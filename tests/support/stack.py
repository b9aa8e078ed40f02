"""A throw-away copy of the repository with its own stack, driven by the real scripts."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .engine import PROJECT_PREFIX, REPO_ROOT, Compose, free_port, remove_project, remove_started_from, run

_counter = itertools.count(1)

SERVICES = ("postgres", "langfuse", "redis")
PORT_VARIABLES = {"postgres": "POSTGRES_PORT", "langfuse": "LANGFUSE_PORT", "redis": "REDIS_PORT"}

# Variables of the developer's shell that would change what the scripts do.
_SCRUBBED = {
    "COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_COMMAND", "COMPOSE_PROFILES", "DOCKER_HOST_OVERRIDE",
    "BIND_ADDRESS", "NO_COLOR", *PORT_VARIABLES.values(),
}


def repository_files(root: Path = REPO_ROOT) -> list[Path]:
    """The files a clone of the repository has (tracked and not ignored)."""
    result = run(["git", "-C", str(root), "ls-files", "-co", "--exclude-standard", "-z"])
    if result.returncode == 0:
        return [Path(name) for name in result.stdout.split("\0") if name and (root / name).is_file()]
    skip = {".git", ".venv", "volumes", "backups", "__pycache__", ".pytest_cache"}
    return [path.relative_to(root) for path in root.rglob("*")
            if path.is_file() and not skip & set(path.relative_to(root).parts)]


def copy_repository(destination: Path) -> Path:
    """Copies the repository as a clone would have it, keeping file modes."""
    for relative in repository_files():
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        # The commands in scripts/ are symlinks to scripts/lib/run.sh: copied as links.
        shutil.copy2(REPO_ROOT / relative, target, follow_symlinks=False)
    (destination / "volumes").mkdir(exist_ok=True)
    return destination


def force_rmtree(path: Path, helper_image: str | None = None) -> None:
    """Deletes a tree even where containers left files this user cannot delete."""
    try:
        shutil.rmtree(path)
        return
    except FileNotFoundError:
        return
    except PermissionError:
        if helper_image is None:
            raise
    run(["docker", "run", "--rm", "--user", "0", "--entrypoint", "sh", "-v", f"{path}:/doomed",
         helper_image, "-c", "find /doomed -mindepth 1 -delete"], timeout=120)
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return f"$ {' '.join(self.args)}\nexit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def _env_value(raw: str) -> str:
    """One value of an env file, unquoted as the scripts read it."""
    raw = raw.strip()
    if raw.startswith("'"):
        return raw[1:raw.index("'", 1)]
    if raw.startswith('"'):
        match = re.match(r'^"((?:[^"\\]|\\.)*)"', raw)
        assert match, raw
        return match.group(1).replace('\\"', '"').replace("\\\\", "\\")
    return re.split(r"\s#", raw, maxsplit=1)[0].rstrip()


@dataclass
class Stack:
    """One test stack: a repository copy, a project name, ports and images."""

    root: Path
    compose: Compose | None
    images: dict[str, str]
    project: str = field(default_factory=lambda: f"{PROJECT_PREFIX}{os.getpid()}x{next(_counter)}")
    ports: dict[str, int] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, compose: Compose | None, images: dict[str, str], base: Path | None = None) -> "Stack":
        root = Path(tempfile.mkdtemp(prefix="transbot-test-", dir=base)) / "repo"
        copy_repository(root)
        stack = cls(root=root, compose=compose, images=images)
        stack.ports = {service: free_port() for service in SERVICES}
        stack.write_image_override()
        return stack

    # --- Set-up -------------------------------------------------------------

    def write_image_override(self) -> None:
        """Points the services at the test images through Compose's own
        override file, the way a user customises the stack locally."""
        lines = ["services:"]
        for service in SERVICES:
            lines += [f"  {service}:", f"    image: {self.images[service]}"]
        (self.root / "docker-compose.override.yml").write_text("\n".join(lines) + "\n")

    def env(self, **overrides: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
        env["COMPOSE_PROJECT_NAME"] = self.project
        for service, port in self.ports.items():
            env[PORT_VARIABLES[service]] = str(port)
        if self.compose is not None:
            env["COMPOSE_COMMAND"] = self.compose.env_value
        env.update(self.extra_env)
        env.update(overrides)
        return env

    # --- Driving it ---------------------------------------------------------

    def script(self, name: str, *args: str, timeout: float = 600, env: dict[str, str] | None = None,
               input: str | None = None, cwd: Path | None = None) -> Result:
        """Runs ./scripts/NAME from another directory, as a user would."""
        command = [str(self.root / "scripts" / name), *args]
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout,
            env=env if env is not None else self.env(), cwd=cwd or self.root.parent,
            input=input, stdin=None if input is not None else subprocess.DEVNULL,
        )
        return Result(command, completed.returncode, completed.stdout, completed.stderr)

    def env_file(self) -> dict[str, str]:
        """Every KEY=value of the stack's .env.infra, read as the scripts
        read it (export prefix, quotes, trailing comments)."""
        values = {}
        for line in (self.root / ".env.infra").read_text().splitlines():
            match = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", line)
            if match:
                values[match.group(1)] = _env_value(match.group(2))
        return values

    def container(self, service: str) -> str:
        result = run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}",
                      "--filter", f"label=com.docker.compose.service={service}"])
        return result.stdout.split()[0] if result.stdout.split() else ""

    def docker_exec(self, service: str, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        env_args = [arg for key in (env or {}) for arg in ("-e", key)]
        return run(["docker", "exec", *env_args, self.container(service), *command],
                   env={**os.environ, **(env or {})})

    def compose_cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Compose itself on this stack, for baselines and inspection."""
        assert self.compose is not None
        return run([*self.compose.command, "--project-name", self.project, "--env-file", ".env.infra", *args],
                   cwd=self.root, env=self.env(), timeout=timeout)

    def diagnostics(self) -> str:
        """What a person needs when a test fails: ps, health logs, last log lines."""
        parts = [f"project {self.project} in {self.root}"]
        if self.compose is not None and (self.root / ".env.infra").exists():
            parts.append(self.compose_cli("ps", "-a", timeout=60).stdout)
        for service in SERVICES:
            container = self.container(service)
            if not container:
                parts.append(f"--- {service}: no container")
                continue
            health = run(["docker", "inspect", "--format",
                          "{{.State.Status}} restarts={{.RestartCount}} "
                          "{{if .State.Health}}{{.State.Health.Status}}{{range .State.Health.Log}}\n  probe exit={{.ExitCode}} {{printf \"%q\" .Output}}{{end}}{{end}}",
                          container])
            logs = run(["docker", "logs", "--tail", "30", container])
            parts.append(f"--- {service}: {health.stdout.strip()}\n{logs.stdout}{logs.stderr}")
        return "\n".join(parts)

    def destroy(self) -> None:
        remove_project(self.project)
        remove_started_from(self.root)
        force_rmtree(self.root.parent, helper_image=self.images.get("postgres"))

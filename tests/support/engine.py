"""The Docker engine, the two Compose versions and the images the tests use."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDIN_BUILD = REPO_ROOT / "tests" / "images" / "build.sh"

# The official images the compose file names, and their offline stand-ins.
OFFICIAL_IMAGES = {
    "postgres": "postgres:15-alpine",
    "langfuse": "langfuse/langfuse:2",
    "redis": "redis:7-alpine",
}
# TRANSBOT_STANDIN_PREFIX is the repository prefix tests/images/build.sh
# tags them under (default transbot-standin): work on the stand-ins builds
# and tests its own, e.g. transbot-standin-dev, and leaves the shared ones alone.
STANDIN_PREFIX = os.environ.get("TRANSBOT_STANDIN_PREFIX") or "transbot-standin"
STANDIN_IMAGES = {
    "postgres": f"{STANDIN_PREFIX}/postgres:15",
    "langfuse": f"{STANDIN_PREFIX}/langfuse:2",
    "redis": f"{STANDIN_PREFIX}/redis:7",
}

# Every stack the tests create has a project name with this prefix and the
# pid of the test run, so a later run can tell stale stacks from live ones.
PROJECT_PREFIX = "tbtest"


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str):
    """Skips on a developer's machine; fails on CI, where everything must run."""
    if on_ci():
        pytest.fail(f"required on CI: {reason}", pytrace=False)
    pytest.skip(reason)


def run(args: list[str], timeout: float = 120, check: bool = False, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=check, **kwargs)


@functools.cache
def engine_problem() -> str | None:
    """Why the Docker engine cannot be used, or None when it can."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    result = run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=30)
    if result.returncode != 0:
        return f"the Docker engine does not answer: {result.stderr.strip()[:200]}"
    return None


@dataclass(frozen=True)
class Compose:
    """One way of running Compose: the words of the command and its version."""

    name: str  # "v2" or "v1"
    command: tuple[str, ...]
    version: str

    @property
    def env_value(self) -> str:
        """The COMPOSE_COMMAND value that makes the scripts use this Compose."""
        return " ".join(self.command)


@functools.cache
def compose_variants() -> dict[str, Compose | str]:
    """Each Compose version: a Compose, or the reason it is unavailable."""
    found: dict[str, Compose | str] = {}
    for name, command in (("v2", ("docker", "compose")), ("v1", ("docker-compose",))):
        if shutil.which(command[0]) is None:
            found[name] = f"{command[0]} is not installed"
            continue
        result = run([*command, "version", "--short"], timeout=30)
        version = result.stdout.strip().lstrip("v")
        if result.returncode != 0 or not version:
            found[name] = f"{' '.join(command)} does not run: {result.stderr.strip()[:200]}"
        elif not version.startswith("2." if name == "v2" else "1."):
            found[name] = f"{' '.join(command)} is version {version}, not {name}"
        else:
            found[name] = Compose(name, command, version)
    return found


def image_present(image: str) -> bool:
    return run(["docker", "image", "inspect", image], timeout=30).returncode == 0


@functools.cache
def test_images() -> dict[str, str]:
    """The image each service runs in tests, chosen by TRANSBOT_TEST_IMAGES.

    official: the images the compose file names (pulled if needed);
    local: the stand-ins built by tests/images/build.sh;
    auto (default): official when all three are present or can be pulled.
    """
    mode = os.environ.get("TRANSBOT_TEST_IMAGES", "auto")
    if mode not in ("official", "local", "auto"):
        raise RuntimeError(f"TRANSBOT_TEST_IMAGES must be official, local or auto, not {mode!r}")
    if mode in ("official", "auto"):
        missing = [image for image in OFFICIAL_IMAGES.values() if not image_present(image)]
        pulled = all(run(["docker", "pull", image], timeout=300).returncode == 0 for image in missing)
        if pulled:
            return dict(OFFICIAL_IMAGES)
        if mode == "official":
            raise RuntimeError(f"cannot pull the official images {missing}")
    build = run(["bash", str(STANDIN_BUILD)], timeout=1800)
    if build.returncode != 0:
        raise RuntimeError(f"building the stand-in images failed:\n{build.stdout}\n{build.stderr}")
    return dict(STANDIN_IMAGES)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def project_containers(project: str) -> list[str]:
    result = run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"])
    return result.stdout.split()


def remove_project(project: str) -> None:
    """Removes a test stack's containers and networks, whatever state they are in."""
    containers = project_containers(project)
    if containers:
        run(["docker", "rm", "-f", "-v", *containers], timeout=120)
    networks = run(["docker", "network", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"])
    for network in networks.stdout.split():
        run(["docker", "network", "rm", network], timeout=60)


def test_projects() -> set[str]:
    """Project names of every test stack on this engine, live or stale."""
    result = run(["docker", "ps", "-a", "--format", '{{.Label "com.docker.compose.project"}}'])
    networks = run(["docker", "network", "ls", "--format", '{{.Label "com.docker.compose.project"}}'])
    names = set(result.stdout.split()) | set(networks.stdout.split())
    return {name for name in names if name.startswith(PROJECT_PREFIX)}


def remove_stale_projects() -> list[str]:
    """Removes test stacks left by earlier runs that were killed."""
    removed = []
    for project in test_projects():
        parts = project[len(PROJECT_PREFIX):].split("x")
        pid = int(parts[0]) if parts and parts[0].isdigit() else 0
        if pid and pid != os.getpid() and _pid_alive(pid):
            continue
        if pid == os.getpid():
            continue
        remove_project(project)
        removed.append(project)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

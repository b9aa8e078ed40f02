"""The Docker engine, the two Compose versions and the images the tests use."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
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
# For the upgrade and update tests (tests/images/README.md): PostgreSQL 17,
# the registry stand-in, a second build of each service's stand-in (the
# same contract under another image ID: "a newer image for the same tag")
# and a redis build whose healthcheck never passes (a test image only).
STANDIN_POSTGRES_17 = f"{STANDIN_PREFIX}/postgres:17"
STANDIN_REGISTRY = f"{STANDIN_PREFIX}/registry:2"
STANDIN_SECOND_BUILDS = {
    STANDIN_IMAGES["postgres"]: f"{STANDIN_PREFIX}/postgres:15-rev2",
    STANDIN_POSTGRES_17: f"{STANDIN_PREFIX}/postgres:17-rev2",
    STANDIN_IMAGES["redis"]: f"{STANDIN_PREFIX}/redis:7-rev2",
    STANDIN_IMAGES["langfuse"]: f"{STANDIN_PREFIX}/langfuse:2-rev2",
}
STANDIN_NEVER_HEALTHY_REDIS = f"{STANDIN_PREFIX}/redis:7-test-never-healthy"

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


def as_from_a_prompt() -> None:
    """preexec_fn of a command a test interrupts with Ctrl-C (SIGINT): it
    starts with SIGINT at its default, as from a shell prompt. tests/run.sh
    runs pytest in the background, where SIGINT is ignored, and a command
    inherits an ignored signal; bash cannot trap one ignored at its start."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finish(process: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """The output of a script started in a process group of its own
    (start_new_session), waiting at most TIMEOUT seconds; a script still
    running then is killed with its whole group, so nothing outlives the test."""
    try:
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


@functools.cache
def engine_problem() -> str | None:
    """Why the Docker engine cannot be used, or None when it can."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    result = run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=30)
    if result.returncode != 0:
        return f"the Docker engine does not answer: {result.stderr.strip()[:200]}"
    return None


# "2.40.3", "v2.40.3", "5.0.1", "2.29.7-desktop.1", "1.29.2", "1.29.2, build 5becea4c".
_COMPOSE_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?=$|[-+, ])")


def parse_compose_version(text: str) -> tuple[int, int, int] | None:
    """The numbers of a Compose version string, or None if it is not one."""
    match = _COMPOSE_VERSION.match(text.strip())
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def compose_family(version: tuple[int, int, int]) -> str | None:
    """The family of a Compose version: v1 is the Python Compose (1.x); v2
    is the Go one, every major from 2 on (its version went from 2.40 to 5.0)."""
    if version[0] == 1:
        return "v1"
    if version[0] >= 2:
        return "v2"
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

    @property
    def numbers(self) -> tuple[int, int, int]:
        """The version as numbers, for comparisons such as >= (2, 24)."""
        parsed = parse_compose_version(self.version)
        assert parsed is not None, self.version
        return parsed


@functools.cache
def compose_variants() -> dict[str, Compose | str]:
    """Each Compose version: a Compose, or the reason it is unavailable."""
    found: dict[str, Compose | str] = {}
    for name, command in (("v2", ("docker", "compose")), ("v1", ("docker-compose",))):
        if shutil.which(command[0]) is None:
            found[name] = f"{command[0]} is not installed"
            continue
        result = run([*command, "version", "--short"], timeout=30)
        found[name] = _compose_or_reason(name, command, result)
    return found


def _compose_or_reason(name: str, command: tuple[str, ...], result: subprocess.CompletedProcess) -> Compose | str:
    """What `COMMAND version --short` says about one Compose: a Compose of
    the family `name` (v1 or v2), or why it cannot be used as one."""
    words = " ".join(command)
    version = result.stdout.strip()
    if result.returncode != 0 or not version:
        return f"{words} does not run: {result.stderr.strip()[:200]}"
    numbers = parse_compose_version(version)
    if numbers is None:
        return f"{words} printed {version[:80]!r}, which is not a Compose version"
    family = compose_family(numbers)
    if family != name:
        return f"{words} is version {version}, not {name} ({'1.x' if name == 'v1' else '2.x or later'})"
    return Compose(name, command, version.lstrip("v"))


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
    build_standins()
    return dict(STANDIN_IMAGES)


@functools.cache
def build_standins() -> None:
    """Builds (or, warm, reuses in about a second) every stand-in image:
    also in `official` mode, for the tests of the stand-ins themselves and
    those that need an image no registry is reachable for (PostgreSQL 17)."""
    build = run(["bash", str(STANDIN_BUILD)], timeout=1800)
    if build.returncode != 0:
        raise RuntimeError(f"building the stand-in images failed:\n{build.stdout}\n{build.stderr}")


# Ports handed out by free_port, one empty file per port naming the pid that
# holds it, shared by every test process on this machine (any user): test
# sessions run in parallel (pytest-xdist workers, a root and a non-root
# session, other checkouts), and a port chosen by one must not be chosen by
# another while it is not yet (or, between a stop and a start, no longer)
# bound by Docker.
PORT_REGISTRY = Path(tempfile.gettempdir()) / "transbot-test-ports"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and that no
    other live test process has been given."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if _reserve(port):
            return port
    raise RuntimeError(f"no free port could be reserved in {PORT_REGISTRY}")


def _reserve(port: int) -> bool:
    """Claims a port for this process unless a live process holds it; under
    the registry's lock, so two processes cannot both reclaim a dead one's."""
    if not PORT_REGISTRY.is_dir():
        PORT_REGISTRY.mkdir(exist_ok=True)
        with contextlib.suppress(PermissionError):  # another user made it first
            PORT_REGISTRY.chmod(0o1777)
    lock = os.open(PORT_REGISTRY / ".lock", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = PORT_REGISTRY / str(port)
        if path.exists():
            holder = path.read_text().strip()
            if not holder.isdigit() or _pid_alive(int(holder)):
                return False
            try:
                path.unlink()  # a dead process's reservation
            except PermissionError:  # another user's, in the sticky folder
                return False
        path.write_text(f"{os.getpid()}\n")
        _OWN_RESERVATIONS.append(path)
        return True
    finally:
        os.close(lock)


_OWN_RESERVATIONS: list[Path] = []


@atexit.register
def _release_ports() -> None:
    for path in _OWN_RESERVATIONS:
        with contextlib.suppress(OSError):
            path.unlink()


def folder_names(path: Path, helper_image: str) -> list[str]:
    """The sorted names in a folder, also one a container's user owns with
    mode 0700 (PostgreSQL's data, uid 70) that this user may not list: then
    a throw-away container of helper_image lists it, as root, read-only."""
    try:
        return sorted(entry.name for entry in path.iterdir())
    except PermissionError:
        listed = run(["docker", "run", "--rm", "--user", "0", "--entrypoint", "ls", "-v", f"{path}:/listed:ro",
                      helper_image, "-A", "/listed"], timeout=120, check=True)
        return sorted(listed.stdout.split("\n")[:-1])


def file_text(path: Path, helper_image: str) -> str:
    """A file's text, also inside a folder of mode 0700 that a container's
    user owns (PostgreSQL's data): then a throw-away container of
    helper_image reads it, as root, read-only."""
    try:
        return path.read_text()
    except PermissionError:
        read = run(["docker", "run", "--rm", "--user", "0", "--entrypoint", "cat", "-v", f"{path.parent}:/read:ro",
                    helper_image, f"/read/{path.name}"], timeout=120, check=True)
        return read.stdout


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


def projects_started_from(folder: Path) -> dict[str, list[str]]:
    """Every Compose project with containers started from FOLDER (whatever
    their state), with those containers' IDs."""
    result = run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project.working_dir={folder}",
                  "--format", '{{.ID}} {{.Label "com.docker.compose.project"}}'])
    projects: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        container, _, project = line.partition(" ")
        projects.setdefault(project, []).append(container)
    return projects


def remove_started_from(folder: Path) -> None:
    """Removes the containers Compose started from FOLDER under any project
    name (a test that let a second project in), and those projects'
    networks once no container is attached to them (another folder's
    stack of the same name keeps its own)."""
    for project, containers in projects_started_from(folder).items():
        run(["docker", "rm", "-f", "-v", *containers], timeout=120)
        networks = run(["docker", "network", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"])
        for network in networks.stdout.split():
            run(["docker", "network", "rm", network], timeout=60)  # refused while in use: kept


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

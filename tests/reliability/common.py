"""Helpers of the reliability layer: snapshots of Docker and of the disk,
a process-list watcher, listening sockets, and the secrets of a stack.

Everything here only observes: it changes nothing in Docker or on disk.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

from support.engine import REPO_ROOT, project_containers, run, unavailable
from support.stack import Result, Stack

PLACEHOLDER = "change-me"
EXAMPLE_TEXT = (REPO_ROOT / ".env.infra.example").read_text()
# The variables the example marks as secrets (their value is the placeholder).
SECRET_NAMES = tuple(re.findall(rf"^([A-Za-z_][A-Za-z0-9_]*)={PLACEHOLDER}$", EXAMPLE_TEXT, re.M))
SERVICES = ("postgres", "langfuse", "redis")

# Data folders whose contents change while the stack runs.
DATA_FOLDERS = ("volumes/postgres", "volumes/redis")


# --- .env.infra ------------------------------------------------------------------


def secrets_of(stack: Stack) -> dict[str, str]:
    """The secret values of the stack's .env.infra worth looking for."""
    values = stack.env_file()
    return {name: values[name] for name in SECRET_NAMES
            if len(values.get(name, "")) >= 6 and values[name] != PLACEHOLDER}


def set_env_values(stack: Stack, changes: dict[str, str | None], *, text: str | None = None) -> bytes:
    """Rewrites .env.infra with CHANGES (KEY -> raw text after "KEY=", None
    drops the line; unknown keys are appended). Keeps mode 0600."""
    path = stack.root / ".env.infra"
    lines = []
    pending = dict(changes)
    for line in (text if text is not None else path.read_text()).splitlines():
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=", line)
        if match and match.group(1) in pending:
            value = pending.pop(match.group(1))
            if value is None:
                continue
            line = f"{match.group(1)}={value}"
        lines.append(line)
    lines += [f"{key}={value}" for key, value in pending.items() if value is not None]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(data)
    path.chmod(0o600)
    return data


def assert_no_secret(text: str, secrets: dict[str, str], where: str) -> None:
    for name, value in secrets.items():
        assert value not in text, f"the value of {name} appeared in {where}"


# --- Running the scripts ------------------------------------------------------------


def script_ok(stack: Stack, *args: str, timeout: float = 400, env: dict[str, str] | None = None) -> Result:
    result = stack.script(*args, timeout=timeout, env=env)
    assert result.returncode == 0, str(result)
    return result


def health_check(stack: Stack, *args: str) -> Result:
    return stack.script("health-check.sh", *args, timeout=180)


# --- Docker's view of a project --------------------------------------------------------


def docker_state(project: str) -> dict[str, object]:
    """The project's containers (with start time and restart count, so a
    restart shows), networks and volumes, from the engine."""
    label = f"label=com.docker.compose.project={project}"
    containers = [(item["Name"], item["Id"][:12], item["State"]["Status"], item["State"]["StartedAt"],
                   item["RestartCount"], item["Config"]["Image"]) for item in _inspect_project(project)]
    networks = run(["docker", "network", "ls", "--filter", label, "--format", "{{.ID}} {{.Name}}"]).stdout.split("\n")
    volumes = run(["docker", "volume", "ls", "--filter", label, "--format", "{{.Name}}"]).stdout.split()
    return {
        "containers": sorted(containers),
        "networks": sorted(line for line in networks if line),
        "volumes": sorted(volumes),
    }


def anonymous_volume_mounts(project: str) -> list[str]:
    """Named or anonymous Docker volumes mounted by the project's containers
    (the stack keeps its data in bind mounts, so there should be none)."""
    return sorted(f"{item['Name']}:{mount.get('Name')}->{mount['Destination']}"
                  for item in _inspect_project(project) for mount in item["Mounts"] if mount["Type"] == "volume")


def _inspect_project(project: str) -> list[dict]:
    """`docker inspect` of every container of the project, stopped ones too."""
    ids = project_containers(project)
    return json.loads(run(["docker", "inspect", *ids]).stdout or "[]") if ids else []


# --- The disk ----------------------------------------------------------------------------


# scripts/lib/stack.sh takes this lock in the repository for every command
# that may change the stack; it holds no data.
LOCK_FILE = ".transbot.lock"


def tree_snapshot(root: Path, skip: tuple[str, ...] = DATA_FOLDERS) -> dict[str, tuple[int, bytes]]:
    """Every file and folder under ROOT (names, modes and bytes), leaving out
    the contents of the data folders, which change while services run."""
    state: dict[str, tuple[int, bytes]] = {}
    for directory, subdirs, files in os.walk(root):
        relative_dir = os.path.relpath(directory, root)
        if any(relative_dir == folder or relative_dir.endswith("/" + folder) for folder in skip):
            subdirs[:] = []  # the folder itself is listed by its parent
            continue
        for name in subdirs:
            path = Path(directory) / name
            state[str(path.relative_to(root)) + "/"] = (path.lstat().st_mode, b"")
        for name in files:
            path = Path(directory) / name
            if name == LOCK_FILE and directory == str(root) or path.name == LOCK_FILE:
                continue  # the clone's command lock: its holder line changes by design
            if path.is_symlink():
                data = os.readlink(path).encode()
            elif path.is_file():
                data = path.read_bytes()
            else:
                data = b""
            state[str(path.relative_to(root))] = (path.lstat().st_mode, data)
    return state


def tree_difference(before: dict, after: dict) -> list[str]:
    changes = [f"created {name}" for name in after.keys() - before.keys()]
    changes += [f"deleted {name}" for name in before.keys() - after.keys()]
    changes += [f"changed {name}" for name in before.keys() & after.keys() if before[name] != after[name]]
    return sorted(changes)


# --- The process list ----------------------------------------------------------------------


class ProcessListWatcher:
    """Reads every process's command line (what `ps -eo args` shows) as fast
    as it can in a thread, and remembers each one that holds a needle.

    Use as a context manager around the commands to watch; bounded by
    MAX_SECONDS whatever happens."""

    MAX_SECONDS = 600

    def __init__(self, needles: dict[str, str]):
        self.needles = {name: value.encode() for name, value in needles.items() if value}
        self.hits: dict[str, set[str]] = {}
        self.scans = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._own_pid = str(os.getpid())

    def _watch(self) -> None:
        deadline = time.monotonic() + self.MAX_SECONDS
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.scans += 1
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or pid == self._own_pid:
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as handle:
                        cmdline = handle.read()
                except OSError:
                    continue
                for name, needle in self.needles.items():
                    if needle in cmdline:
                        shown = cmdline.replace(b"\0", b" ").decode(errors="replace")
                        self.hits.setdefault(name, set()).add(shown.replace(needle.decode(errors="replace"), "<" + name + ">"))
            time.sleep(0.002)

    def __enter__(self) -> "ProcessListWatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


# --- Listening sockets -----------------------------------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """The local addresses TCP sockets listen on for PORT (from `ss -ltnH`)."""
    if shutil.which("ss") is None:
        unavailable("ss (iproute2) is not installed: apt-get install iproute2")
    output = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, timeout=30, check=True).stdout
    addresses = set()
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        local = fields[3]
        address, _, local_port = local.rpartition(":")
        if local_port == str(port):
            addresses.add(address)
    return addresses

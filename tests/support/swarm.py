"""A real Docker Swarm of three nodes on this one machine, for tests/swarm.

Each node is a dockerd of its own (the machine's Engine 26 binary) in a
network namespace of its own, with its own data root, exec root, socket and
hostname; the nodes reach each other through a bridge that lives in one more
namespace, over veth pairs, on private addresses that exist only inside these
namespaces. Nothing is sent to any address outside them, and the machine's
own engine is only read from (`docker save` of the images).

Facts this is built on:
- `nsenter --net=...`, never `ip netns exec`: the latter remounts /sys and
  hides the cgroup mounts from dockerd.
- No `--bridge`: dockerd 26 would then delete the host's docker0.
- No registry: the images are saved once from the machine's engine (one
  `docker save` of all of them, so their shared base layers go once) and
  loaded into every node; the stack is deployed with --resolve-image never.
- No IPVS in this kernel: the stack uses dnsrr and host-mode ports.

Everything one swarm creates is named after RUN_PREFIX and the pid of the
process that built it (namespaces, folders, cgroups), so `cleanup_stale()`
can remove what a killed earlier run left behind, and `Swarm.destroy()`
removes everything, whatever state the swarm is in.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .engine import _pid_alive, run

RUN_PREFIX = "tbswarm"
# Data roots (images, volumes) under STATE_BASE, on a tmpfs of the run's own
# when the machine has the memory to spare (see Swarm._storage); exec roots
# (sockets, containerd's state) under /run, where paths stay short enough
# for unix sockets.
STATE_BASE = Path("/var/tmp/transbot-swarm")
EXEC_BASE = Path("/run/transbot-swarm")
NETNS_DIR = Path("/var/run/netns")
CGROUP_ROOT = Path("/sys/fs/cgroup")
SUBNET = "192.168.77"
MANAGER_PORT = 2377
# The overlay networks' pool: apart from the nodes' own addresses.
ADDRESS_POOL = "10.201.0.0/16"
DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"


def run_id(pid: int | None = None) -> str:
    return f"{RUN_PREFIX}{pid or os.getpid()}"


@dataclass
class Node:
    """One dockerd in its own network namespace."""

    run: str
    index: int
    process: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def netns(self) -> str:
        return f"{self.run}n{self.index}"

    @property
    def address(self) -> str:
        return f"{SUBNET}.{10 + self.index}"

    @property
    def root(self) -> Path:
        return STATE_BASE / self.run / self.name

    @property
    def exec_root(self) -> Path:
        return EXEC_BASE / self.run / self.name

    @property
    def socket(self) -> Path:
        return self.exec_root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def log(self) -> Path:
        return STATE_BASE / self.run / f"{self.name}-dockerd.log"

    def docker(self, *args: str, timeout: float = 120, input: str | None = None,
               env: dict[str, str] | None = None, check: bool = False) -> subprocess.CompletedProcess:
        """The docker CLI against this node. Secrets go in through `input`
        (stdin), never as arguments."""
        full_env = {**os.environ, "DOCKER_HOST": self.host, **(env or {})}
        full_env.pop("DOCKER_CONTEXT", None)
        result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                                input=input, env=full_env)
        if check and result.returncode != 0:
            raise RuntimeError(f"{self.name}: docker {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}{result.stderr}")
        return result

    def in_netns(self, *command: str) -> list[str]:
        """COMMAND run inside this node's network namespace (a client of its
        published ports)."""
        return ["nsenter", f"--net={NETNS_DIR / self.netns}", *command]

    def start(self, timeout: float = 60) -> None:
        """Starts (or restarts) this node's dockerd and waits until it answers."""
        self.launch()
        self.wait_answering(timeout)

    def launch(self) -> None:
        """Starts this node's dockerd, without waiting for it."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.exec_root.mkdir(parents=True, exist_ok=True)
        config = self.root / "daemon.json"
        # Our own (empty) configuration: the machine's /etc/docker/daemon.json
        # may name hosts, a bridge or a data root that belong to its engine.
        config.write_text("{}\n")
        command = [
            # A UTS namespace of its own: each node has its own hostname,
            # so `docker node ls` tells them apart.
            "unshare", "--uts", "sh", "-c", f'hostname "$0" && exec "$@"', f"{self.run}-{self.name}",
            "nsenter", f"--net={NETNS_DIR / self.netns}",
            DOCKERD, "-H", self.host, "--config-file", str(config),
            "--data-root", str(self.root / "data"), "--exec-root", str(self.exec_root / "exec"),
            "--pidfile", str(self.exec_root / "dockerd.pid"),
            # Containers' cgroups under a name of this run, so a teardown
            # (or a later run) finds and removes them.
            "--cgroup-parent", f"/{self.netns}",
            "--log-level", "warn",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            start_new_session=True)

    def wait_answering(self, timeout: float = 60) -> None:
        """Waits until this node's dockerd (launched) answers."""
        deadline = time.monotonic() + timeout
        while self.docker("version", "--format", "{{.Server.Version}}", timeout=10).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: dockerd did not come up:\n{self.log_tail()}")
            time.sleep(0.3)

    def stop(self, timeout: float = 30) -> None:
        """Stops this node's dockerd as an administrator would (SIGTERM)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def node_id(self) -> str:
        return self.docker("info", "--format", "{{.Swarm.NodeID}}", check=True).stdout.strip()

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class Swarm:
    """Three nodes: node1 the manager, node2 and node3 workers."""

    run: str
    nodes: list[Node] = field(default_factory=list)
    build_seconds: dict[str, float] = field(default_factory=dict)
    storage: str = "disk"

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    @property
    def bridge_netns(self) -> str:
        return f"{self.run}br"

    @classmethod
    def create(cls, images: list[str], labels: dict[str, list[str]], size: int = 3) -> Swarm:
        """Builds the swarm, loads IMAGES into every node and adds LABELS
        ({"node1": ["transbot.postgres=true"], ...}). On any failure or
        interrupt everything built so far is removed."""
        cleanup_stale()
        swarm = cls(run_id(), [Node(run_id(), index) for index in range(1, size + 1)])
        archive = STATE_BASE / swarm.run / "images.tar"
        saving: subprocess.Popen | None = None
        try:
            swarm.storage = swarm._storage(images)
            # The machine's engine saves the images while the nodes' engines
            # start: neither waits for the other.
            saving = subprocess.Popen(["docker", "save", "-o", str(archive), *images], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            swarm._timed("network", swarm._network)
            swarm._timed("engines", swarm._engines)
            swarm._timed("images", swarm._load_images, saving, archive)
            swarm._timed("swarm", swarm._join)
            swarm._label(labels)
        except BaseException:
            if saving is not None and saving.poll() is None:
                saving.kill()
                saving.wait()
            swarm.destroy()
            raise
        return swarm

    def _storage(self, images: list[str]) -> str:
        """Makes the run's state folder; a tmpfs when the machine has twice
        the memory it may take free (each node holds every image, plus 2 GiB
        for containers and volumes). Unpacking three copies of the images
        and, above all, deleting their tens of thousands of files took up to
        30 s each on a disk other test runs kept busy; a tmpfs goes with
        one umount (cleanup() unmounts whatever is mounted there)."""
        folder = STATE_BASE / self.run
        folder.mkdir(parents=True, exist_ok=True)
        sizes = run(["docker", "image", "inspect", "--format", "{{.Size}}", *images])
        if sizes.returncode != 0:
            return "disk"
        needed = len(self.nodes) * sum(int(size) for size in sizes.stdout.split()) + 2 * 2**30
        if _memory_available() < 2 * needed:
            return "disk"
        _check(["mount", "-t", "tmpfs", "-o", f"mode=0755,size={needed}", self.run, str(folder)])
        return "tmpfs"

    def _timed(self, what: str, step, *args) -> None:
        began = time.monotonic()
        step(*args)
        self.build_seconds[what] = round(time.monotonic() - began, 1)

    def _network(self) -> None:
        _ip("netns", "add", self.bridge_netns)
        bridge = ["nsenter", f"--net={NETNS_DIR / self.bridge_netns}", "ip"]
        _check([*bridge, "link", "add", "br0", "type", "bridge"])
        _check([*bridge, "link", "set", "br0", "up"])
        for node in self.nodes:
            _ip("netns", "add", node.netns)
            inside = ["nsenter", f"--net={NETNS_DIR / node.netns}", "ip"]
            # Both ends are created inside our namespaces: no interface ever
            # appears in the machine's own network namespace.
            _check([*bridge, "link", "add", f"v{node.index}", "type", "veth",
                    "peer", "name", "eth0", "netns", node.netns])
            _check([*bridge, "link", "set", f"v{node.index}", "master", "br0", "up"])
            _check([*inside, "addr", "add", f"{node.address}/24", "dev", "eth0"])
            _check([*inside, "link", "set", "eth0", "up"])
            _check([*inside, "link", "set", "lo", "up"])

    def _engines(self) -> None:
        # All three start at once; each is then waited for.
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_answering()

    def _load_images(self, saving: subprocess.Popen, archive: Path) -> None:
        output, _ = saving.communicate(timeout=600)
        if saving.returncode != 0:
            raise RuntimeError(f"docker save failed ({saving.returncode}):\n{output}")
        loads = [subprocess.Popen(["docker", "load", "-q", "-i", str(archive)],
                                  env={**os.environ, "DOCKER_HOST": node.host},
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for node in self.nodes]
        try:
            for node, load in zip(self.nodes, loads):
                output, _ = load.communicate(timeout=600)
                if load.returncode != 0:
                    raise RuntimeError(f"{node.name}: docker load failed:\n{output}")
        finally:
            for load in loads:
                if load.poll() is None:
                    load.kill()
                    load.wait()
            archive.unlink(missing_ok=True)

    def _join(self) -> None:
        self.manager.docker("swarm", "init", "--advertise-addr", self.manager.address,
                            "--listen-addr", f"{self.manager.address}:{MANAGER_PORT}",
                            "--default-addr-pool", ADDRESS_POOL, check=True)
        # The join token is a credential of this throw-away swarm only.
        token = self.manager.docker("swarm", "join-token", "-q", "worker", check=True).stdout.strip()
        for node in self.nodes[1:]:
            node.docker("swarm", "join", "--token", token, "--advertise-addr", node.address,
                        f"{self.manager.address}:{MANAGER_PORT}", check=True)

    def _label(self, labels: dict[str, list[str]]) -> None:
        for node in self.nodes:
            node_id = node.node_id()
            for label in labels.get(node.name, []):
                self.manager.docker("node", "update", "--label-add", label, node_id, check=True)

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def destroy(self) -> None:
        """Removes everything at once: the swarm's data is thrown away, so
        nothing waits for a graceful shutdown."""
        cleanup(self.run)
        for node in self.nodes:
            if node.process is not None:
                node.process.wait(10)  # killed by cleanup: reap it
                node.process = None

    # --- Stacks --------------------------------------------------------------------

    def create_secret(self, name: str, value: str) -> str:
        """A Docker secret from stdin, named NAME_<hash8> so that a changed
        value becomes a new secret (secrets are immutable); returns the name."""
        versioned = f"{name}_{hashlib.sha256(f'{name}:{value}'.encode()).hexdigest()[:8]}"
        if self.manager.docker("secret", "inspect", versioned).returncode != 0:
            self.manager.docker("secret", "create", versioned, "-", input=value, check=True)
        return versioned

    def deploy(self, stack_file: Path, name: str, variables: dict[str, str]) -> subprocess.CompletedProcess:
        """`docker stack deploy` as a user would run it by hand (the variables
        in its environment, where stack files take them from)."""
        return self.manager.docker("stack", "deploy", "--detach=true", "--resolve-image", "never",
                                   "--prune", "-c", str(stack_file), name, env=variables, timeout=180)

    def remove_stack(self, name: str, timeout: float = 120) -> None:
        self.manager.docker("stack", "rm", name, check=True)
        # `stack rm` returns at once; its containers and network go later.
        deadline = time.monotonic() + timeout
        while any(node.docker("ps", "-aq", "--filter", f"label=com.docker.stack.namespace={name}").stdout.strip()
                  for node in self.nodes if node.process is not None):
            if time.monotonic() > deadline:
                raise AssertionError(f"stack {name} still has containers {timeout} s after docker stack rm")
            time.sleep(1)
        while self.manager.docker("network", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={name}"
                                  ).stdout.strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"stack {name} still has its network after docker stack rm")
            time.sleep(1)

    def services(self, stack: str) -> dict[str, dict]:
        """Each service of STACK: its spec, as `docker service inspect` shows it."""
        names = self.manager.docker("stack", "services", "--format", "{{.Name}}", stack, check=True).stdout.split()
        if not names:
            return {}
        inspected = json.loads(self.manager.docker("service", "inspect", *names, check=True).stdout)
        return {service["Spec"]["Name"]: service for service in inspected}

    def tasks(self, stack: str) -> list[dict]:
        """Every task of STACK the manager knows, newest state included."""
        ids = self.manager.docker("stack", "ps", "-q", "--no-trunc", stack).stdout.split()
        if not ids:
            return []
        return json.loads(self.manager.docker("inspect", "--type", "task", *ids, check=True).stdout)

    def node_of(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.process is not None and node.node_id() == node_id:
                return node
        raise LookupError(node_id)

    def containers(self, stack: str) -> list[tuple[Node, dict]]:
        """Every running container of STACK on every running node, inspected."""
        found = []
        for node in self.nodes:
            if node.process is None:
                continue
            ids = node.docker("ps", "-q", "--filter", f"label=com.docker.stack.namespace={stack}").stdout.split()
            if ids:
                found += [(node, item) for item in json.loads(node.docker("inspect", *ids, check=True).stdout)]
        return found

    def converged(self, stack: str) -> str | None:
        """None when every service of STACK runs as many tasks as it wants and
        each of their containers reports healthy; else what is still missing."""
        services = self.services(stack)
        if not services:
            return "no services yet"
        running: dict[str, int] = {}
        for task in self.tasks(stack):
            if task["Status"]["State"] == "running" and task["DesiredState"] == "running":
                name = next(n for n, s in services.items() if s["ID"] == task["ServiceID"])
                running[name] = running.get(name, 0) + 1
        for name, service in services.items():
            wanted = service["Spec"]["Mode"].get("Replicated", {}).get("Replicas", 1)
            if running.get(name, 0) != wanted:
                return f"{name}: {running.get(name, 0)} of {wanted} tasks running"
        # The manager may still count a task of a node that restarted as
        # running while that node no longer has its container: count the
        # containers the nodes hold too.
        held: dict[str, int] = {}
        for node, container in self.containers(stack):
            health = container["State"].get("Health", {}).get("Status", "none")
            if health != "healthy":
                return f"{container['Name']} on {node.name}: {health}"
            name = container["Config"]["Labels"].get("com.docker.swarm.service.name", "")
            held[name] = held.get(name, 0) + 1
        for name, service in services.items():
            wanted = service["Spec"]["Mode"].get("Replicated", {}).get("Replicas", 1)
            if held.get(name, 0) != wanted:
                return f"{name}: {held.get(name, 0)} of {wanted} containers on the nodes"
        return None

    def wait_converged(self, stack: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while (missing := self.converged(stack)) is not None:
            if time.monotonic() > deadline:
                raise AssertionError(f"stack {stack} not converged after {timeout} s: {missing}\n"
                                     f"{self.diagnostics(stack)}")
            time.sleep(1)

    def diagnostics(self, stack: str) -> str:
        lines = [self.manager.docker("stack", "ps", "--no-trunc", stack).stdout]
        for name in self.services(stack):
            lines.append(f"--- {name} logs ---")
            lines.append(self.manager.docker("service", "logs", "--tail", "30", "--raw", name, timeout=30).stdout)
        for node in self.nodes:
            lines.append(f"--- {node.name} dockerd ---\n{node.log_tail(15)}")
        return "\n".join(lines)


def _memory_available() -> int:
    """MemAvailable of /proc/meminfo, in bytes (0 when unknown)."""
    with contextlib.suppress(OSError, AttributeError):
        return int(re.search(r"^MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M).group(1)) * 1024
    return 0


# --- Teardown ----------------------------------------------------------------------

def _ip(*args: str) -> None:
    _check(["ip", *args])


def _check(command: list[str], timeout: float = 60) -> None:
    result = run(command, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")


def _namespaces(run: str) -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(entry.name for entry in NETNS_DIR.iterdir() if entry.name.startswith(run))


def _processes_in(netns: str) -> list[int]:
    """Every process in network namespace NETNS (dockerd, containerd, shims)."""
    try:
        wanted = (NETNS_DIR / netns).stat().st_ino
    except OSError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "ns" / "net").stat().st_ino == wanted:
                    found.append(int(entry.name))
    return found


def _cgroups(run: str) -> list[Path]:
    """Our containers' cgroups (and their parents), deepest first, in every
    hierarchy (cgroup v1 has one per controller; v2 one)."""
    found: list[Path] = []
    roots = [CGROUP_ROOT, *(p for p in CGROUP_ROOT.iterdir() if p.is_dir())] if CGROUP_ROOT.is_dir() else []
    for root in roots:
        with contextlib.suppress(OSError):
            for top in root.iterdir():
                if top.name.startswith(run) and top.is_dir():
                    found += sorted(top.rglob("*"), key=lambda p: -len(p.parts))
                    found.append(top)
    return [path for path in found if path.is_dir()]


def _kill_everything(run: str) -> None:
    pids: set[int] = set()
    for netns in _namespaces(run):
        pids.update(_processes_in(netns))
    for cgroup in _cgroups(run):
        with contextlib.suppress(OSError):
            pids.update(int(pid) for pid in (cgroup / "cgroup.procs").read_text().split())
    pids.discard(os.getpid())
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while any(_pid_alive(pid) and not _zombie(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def _mounts_under(*folders: Path) -> list[str]:
    """Mount points below FOLDERS, deepest first (overlay roots, secrets'
    tmpfs, network namespace files)."""
    prefixes = [str(folder) + "/" for folder in folders]
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point.startswith(prefix) or point + "/" == prefix for prefix in prefixes):
            points.append(point)
    return sorted(set(points), key=lambda p: -len(p))


def cleanup(run: str) -> None:
    """Removes everything of one swarm run: processes, mounts, cgroups,
    network namespaces (their veths and bridge go with them), folders."""
    _kill_everything(run)
    state, exec_root = STATE_BASE / run, EXEC_BASE / run
    for _ in range(3):
        points = _mounts_under(state, exec_root)
        if not points:
            break
        for point in points:
            subprocess.run(["umount", "-l", point], capture_output=True)
    for cgroup in _cgroups(run):
        with contextlib.suppress(OSError):
            cgroup.rmdir()
    for netns in _namespaces(run):
        subprocess.run(["ip", "netns", "delete", netns], capture_output=True)
    for folder in (state, exec_root):
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()  # the base folder, once no run uses it


def leftovers(run: str) -> list[str]:
    """What of RUN still exists (for tests of the teardown itself)."""
    found = [f"netns {name}" for name in _namespaces(run)]
    found += [f"folder {folder}" for folder in (STATE_BASE / run, EXEC_BASE / run) if folder.exists()]
    found += [f"mount {point}" for point in _mounts_under(STATE_BASE / run, EXEC_BASE / run)]
    found += [f"cgroup {path}" for path in _cgroups(run)]
    return found


def _runs_present() -> set[str]:
    names = set()
    for folder in (STATE_BASE, EXEC_BASE, NETNS_DIR):
        with contextlib.suppress(OSError):
            names.update(entry.name for entry in folder.iterdir() if entry.name.startswith(RUN_PREFIX))
    with contextlib.suppress(OSError):
        for root in [CGROUP_ROOT, *CGROUP_ROOT.iterdir()]:
            with contextlib.suppress(OSError):
                names.update(entry.name for entry in root.iterdir() if entry.name.startswith(RUN_PREFIX))
    return {match[0] for name in names if (match := re.match(rf"{RUN_PREFIX}\d+", name))}


def cleanup_stale() -> list[str]:
    """Removes the swarms of earlier runs whose process is gone (killed)."""
    removed = []
    for run in sorted(_runs_present()):
        pid = int(run[len(RUN_PREFIX):])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        cleanup(run)
        removed.append(run)
    return removed

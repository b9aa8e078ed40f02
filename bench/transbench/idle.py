"""Idle cost: CPU and memory of each container from its cgroup (v1 or v2),
and of dockerd, containerd and the containers' shims from /proc."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from support.engine import run
from support.stack import SERVICES, Stack

from .common import BenchError, Disturbed, median, parse_docker_time
from .timeline import inspect

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cgroup_mounts() -> dict[str, str]:
    """Mount point of each cgroup v1 controller, and of cgroup2 under 'unified'."""
    mounts: dict[str, str] = {}
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            left, _, right = line.partition(" - ")
            fields = right.split()
            if len(fields) < 3:
                continue
            mountpoint = left.split()[4]
            if fields[0] == "cgroup2":
                mounts.setdefault("unified", mountpoint)
            elif fields[0] == "cgroup":
                for option in fields[2].split(","):
                    mounts.setdefault(option, mountpoint)
    return mounts


class ContainerCgroup:
    """CPU and memory of one container from its cgroup (v1 or v2)."""

    def __init__(self, pid: int):
        mounts = _cgroup_mounts()
        paths: dict[str, str] = {}
        with open(f"/proc/{pid}/cgroup") as handle:
            for line in handle:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for controller in controllers.split(",") if controllers else ["unified"]:
                    paths[controller] = path
        if "cpuacct" in mounts and "cpuacct" in paths:
            self.version = 1
            self.cpu_dir = Path(mounts["cpuacct"] + paths["cpuacct"])
            self.memory_dir = Path(mounts["memory"] + paths["memory"]) if "memory" in paths else None
        elif "unified" in mounts and "unified" in paths:
            self.version = 2
            self.cpu_dir = self.memory_dir = Path(mounts["unified"] + paths["unified"])
        else:
            raise BenchError(f"cannot find the cgroup of pid {pid}")
        if not self.cpu_dir.is_dir():
            raise BenchError(f"the cgroup directory {self.cpu_dir} does not exist (a container-in-container setup?)")

    def cpu_seconds(self) -> float:
        if self.version == 1:
            return int((self.cpu_dir / "cpuacct.usage").read_text()) / 1e9
        for line in (self.cpu_dir / "cpu.stat").read_text().splitlines():
            key, value = line.split()
            if key == "usage_usec":
                return int(value) / 1e6
        raise BenchError(f"no usage_usec in {self.cpu_dir}/cpu.stat")

    def memory_bytes(self) -> float | None:
        """The working set, as `docker stats` shows it: usage minus inactive page cache."""
        if self.memory_dir is None:
            return None
        stat = dict(line.split() for line in (self.memory_dir / "memory.stat").read_text().splitlines())
        if self.version == 1:
            usage = int((self.memory_dir / "memory.usage_in_bytes").read_text())
            inactive = int(stat.get("total_inactive_file", 0))
        else:
            usage = int((self.memory_dir / "memory.current").read_text())
            inactive = int(stat.get("inactive_file", 0))
        return float(max(usage - inactive, 0))


def proc_cpu_seconds(pid: int) -> float:
    """User + system time of a process and of its waited-for children."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = text[text.rindex(")") + 2:].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def _network_namespace(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def engine_processes(container_ids: list[str]) -> dict[str, list[int]]:
    """dockerd, containerd, and the containerd shims of the given containers.

    A second engine may run beside this one in its own network namespace
    (bench/engine-20.10.sh), so dockerd and containerd count only when they
    share the benchmark's namespace: the engine it talks to, not the other."""
    found: dict[str, list[int]] = {"dockerd": [], "containerd": [], "shims": []}
    ours = _network_namespace("self")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            if comm in ("dockerd", "containerd") and _network_namespace(entry.name) == ours:
                found[comm].append(int(entry.name))
            elif comm.startswith("containerd-shim"):
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if any(cid in cmdline for cid in container_ids):
                    found["shims"].append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def host_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (not idle, not waiting)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / CLOCK_TICKS


def probes_between(details: dict, began: float, ended: float) -> int | None:
    """Probes Docker started between two epochs, from its five-entry health
    log; None when the log may have dropped some (all five inside)."""
    entries = (details["State"].get("Health") or {}).get("Log") or []
    starts = [parse_docker_time(entry.get("Start", "")) for entry in entries]
    inside = [when for when in starts if when is not None and began <= when <= ended]
    if len(entries) >= 5 and len(inside) == len(entries):
        return None
    return len(inside)


def measure_idle_window(stack: Stack, window: float, step: float) -> dict:
    """CPU per container and per engine process group over WINDOW seconds,
    sampled every STEP seconds. Two rates per item: over the whole window
    (every probe and burst included: the honest figure) and the median of
    the sub-windows (which drops bursts, someone else's on a shared engine
    and the stack's own periodic ones alike)."""
    containers = {}
    for service in SERVICES:
        details = inspect(stack.container(service))
        if not details["State"].get("Running"):
            raise BenchError(f"{service} is not running at the start of the idle window")
        containers[service] = (details["Id"], ContainerCgroup(details["State"]["Pid"]), details["RestartCount"])
    engine = engine_processes([cid for cid, _, _ in containers.values()])

    def sample() -> tuple[float, dict[str, float]]:
        try:
            values = {service: cgroup.cpu_seconds() for service, (_, cgroup, _) in containers.items()}
        except OSError as exc:
            raise Disturbed(f"a container's cgroup went away during the idle window: {exc}") from exc
        for group, pids in engine.items():
            values[group] = sum(proc_cpu_seconds(pid) for pid in pids)
        return time.monotonic(), values

    host_before = host_busy_seconds()
    epoch_began = time.time()
    samples = [sample()]
    began = samples[0][0]
    ticks = max(1, round(window / step))
    for tick in range(1, ticks + 1):
        time.sleep(max(0.0, began + tick * step - time.monotonic()))
        samples.append(sample())
    epoch_ended = time.time()
    host_busy = (host_busy_seconds() - host_before) / (samples[-1][0] - began)
    rates: dict[str, float] = {}
    totals: dict[str, float] = {}
    for key in samples[0][1]:
        per_window = [(b[1][key] - a[1][key]) / (b[0] - a[0]) for a, b in zip(samples, samples[1:])]
        rates[key] = median(per_window)
        totals[key] = (samples[-1][1][key] - samples[0][1][key]) / (samples[-1][0] - samples[0][0])
    for service, (cid, _, restarts) in containers.items():
        found = run(["docker", "inspect", cid])
        details = json.loads(found.stdout)[0] if found.returncode == 0 else {"RestartCount": None, "State": {}}
        if details["RestartCount"] != restarts or not details["State"].get("Running"):
            raise Disturbed(f"{service} was removed, restarted or stopped during the idle window")
    intervals, start_intervals, probes = {}, {}, {}
    for service, (cid, _, _) in containers.items():
        details = inspect(cid)
        check = details["Config"].get("Healthcheck") or {}
        disabled = not check or check.get("Test", [""])[0] == "NONE"
        # Docker's default interval is 30 s.
        intervals[service] = None if disabled else (check.get("Interval") or 30e9) / 1e9
        start_intervals[service] = None if disabled else (check.get("StartInterval") or 0) / 1e9 or None
        probes[service] = 0 if disabled else probes_between(details, epoch_began, epoch_ended)
    # Everything else the machine ran meanwhile: its busy time minus the
    # stack's containers and the engine's processes.
    ours = sum(totals[service] for service in SERVICES) + totals["dockerd"] + totals["containerd"] + totals["shims"]
    return {
        "other_work_cores": max(host_busy - ours, 0.0),
        "rates": rates,
        "probe_intervals": intervals,
        "start_intervals": start_intervals,
        "probes": probes,
        "host_busy_cores": host_busy,
        "window_averages": totals,
        "memory": {service: cgroup.memory_bytes() for service, (_, cgroup, _) in containers.items()},
        "engine_pids": engine,
        "seconds": samples[-1][0] - began,
    }


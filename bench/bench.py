#!/usr/bin/env python3
"""Benchmarks of the TransBot dev stack: what a developer waits for, and what
the stack costs at rest, each measured against raw Compose in the same run.

Run it through ./bench/run.sh, which prepares tests/.venv. It drives the real
scripts in a throw-away copy of the repository (the test suite's Stack helper)
on the test images, prints a markdown table and writes it to a file.
Method and bounds: bench/README.md.

Exit status: 0 when every measurement ran (targets met or not), 1 when the
benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from support.engine import (  # noqa: E402  (needs the path above)
    PROJECT_PREFIX,
    Compose,
    compose_variants,
    engine_problem,
    remove_stale_projects,
    run,
    test_images,
)
from support import clients  # noqa: E402
from support.stack import SERVICES, Stack, copy_repository, force_rmtree  # noqa: E402

SCRIPTS = "scripts"
BASELINE = "baseline"
DEFAULT_OUTPUT = BENCH_DIR / "results" / "latest.md"
UNKNOWN_OPTION = "--bench-no-such-option"

# Targets from the issue.
START_RATIO_TARGET = 1.10
GAP_TARGET_S = 2.0
HEALTH_CHECK_TARGET_S = 1.0
HEALTHCHECK_CPU_TARGET = 0.01  # of one core
OVERHEAD_TARGET_S = 0.050

# Log lines that say a service is ready to serve (official images and stand-ins).
READY_PATTERNS = {
    "postgres": re.compile(r"database system is ready to accept connections"),
    "redis": re.compile(r"Ready to accept connections"),
    "langfuse": re.compile(r"✓ Ready|Ready in \d"),
}

# Data kept by the services on the host: what a cold start must not find.
DATA_FOLDERS = ("postgres", "redis")

NO_HEALTHCHECKS_FILE = "bench-no-healthchecks.yml"
NO_HEALTHCHECKS_YAML = """\
# Written by bench/bench.py: the idle-cost baseline, the same stack with
# Docker's healthchecks off (langfuse then waits for postgres to be started).
services:
  postgres:
    healthcheck:
      disable: true
  langfuse:
    healthcheck:
      disable: true
    depends_on:
      postgres:
        condition: service_started
  redis:
    healthcheck:
      disable: true
"""


class BenchError(Exception):
    """The benchmark could not run (not: a target was missed)."""


class Disturbed(BenchError):
    """Something outside the benchmark changed the stack during a measurement
    (on a shared engine: another run restarting dockerd, say)."""


# A measurement that fails is taken again this many times before the run
# gives up; every retry is logged and listed in the output.
RETRIES = 2


# --- Settings -------------------------------------------------------------------


@dataclass
class Settings:
    repeat: int
    quick: bool
    idle_window: float
    idle_rounds: int
    idle_settle: float
    idle_step: float
    fast_runs: int
    overhead_runs: int
    row_counts: list[int]
    output: Path
    from_json: Path | None = None


def parse_args(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(
        prog="bench/run.sh",
        description="Benchmarks the stack's scripts against raw Compose and writes a markdown table.",
    )
    parser.add_argument("--repeat", type=int, default=None, metavar="N",
                        help="start runs per variant and size (default 5; 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="CI mode: 1 repetition, 10 s idle window, 0 and 10k rows")
    parser.add_argument("--idle-window", type=float, default=None, metavar="SECONDS",
                        help="length of each idle CPU window (default 60; 10 with --quick)")
    parser.add_argument("--rows", default=None, metavar="N,N,...",
                        help="translation row counts to grow through (default 0,100000,1000000; 0,10000 with --quick)")
    parser.add_argument("--from-json", type=Path, default=None, metavar="FILE",
                        help="measure nothing: render the table again from a run's .json")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="FILE",
                        help=f"where to write the markdown (default {DEFAULT_OUTPUT.relative_to(REPO_ROOT)}); "
                             "the raw samples go next to it as .json")
    args = parser.parse_args(argv)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 5)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    window = args.idle_window if args.idle_window is not None else (10.0 if args.quick else 60.0)
    if window < 2:
        parser.error("--idle-window must be at least 2 seconds")
    rows_text = args.rows if args.rows is not None else ("0,10000" if args.quick else "0,100000,1000000")
    try:
        rows = sorted({int(part.replace("_", "")) for part in rows_text.split(",") if part.strip()})
    except ValueError:
        parser.error(f"--rows takes whole numbers separated by commas, not {rows_text!r}")
    if not rows or rows[0] < 0:
        parser.error("--rows needs at least one count, none negative")
    if rows[0] != 0:
        rows.insert(0, 0)
    output = args.output if args.output.is_absolute() else Path.cwd() / args.output
    return Settings(
        repeat=repeat,
        quick=args.quick,
        idle_window=window,
        idle_rounds=min(2, repeat),
        idle_settle=5.0 if args.quick else 20.0,
        idle_step=min(5.0, window / 5),
        fast_runs=max(3, 2 * repeat),
        overhead_runs=5 if args.quick else 20,
        row_counts=rows,
        output=output,
        from_json=args.from_json,
    )


# --- Small helpers ----------------------------------------------------------------

_began = time.monotonic()


def log(message: str) -> None:
    elapsed = int(time.monotonic() - _began)
    print(f"[bench {elapsed // 60:02d}:{elapsed % 60:02d}] {message}", file=sys.stderr, flush=True)


def require_ok(label: str, result, expect: tuple[int, ...] = (0,)) -> None:
    if result.returncode not in expect:
        raise BenchError(f"{label} exited {result.returncode}, expected {expect}\n"
                         f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}")


def median(values: list[float]) -> float:
    return statistics.median(values)


def parse_docker_time(text: str) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp with nanoseconds, as Docker writes them."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text.strip())
    if not match or match.group(1).startswith("0001-"):
        return None
    base = datetime.fromisoformat(match.group(1) + ("+00:00" if match.group(3) == "Z" else match.group(3)))
    fraction = float("0." + match.group(2)) if match.group(2) else 0.0
    return base.timestamp() + fraction


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) < 1:
        return f"{value * 1000:.0f} ms" if abs(value) >= 0.1 else f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def fmt_cpu(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f} %"


def fmt_mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f} MiB"


def summary(values: list[float], fmt) -> str:
    """Median, with the range when there is more than one sample."""
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(median(values))} [{fmt(min(values))}–{fmt(max(values))}]"


def paired_ratio(measured: list[float], baseline: list[float]) -> float | None:
    """Median of the per-round ratios: each round ran both, back to back."""
    ratios = [m / b for m, b in zip(measured, baseline) if m is not None and b]
    return median(ratios) if ratios else None


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


# --- The engine's view of one start ------------------------------------------------


class EventStream:
    """`docker events` for one project while a command runs: health status
    changes and container starts with nanosecond times."""

    def __init__(self, project: str, since: float):
        self.proc = subprocess.Popen(
            ["docker", "events", "--since", str(int(since) - 1), "--filter", "type=container",
             "--filter", f"label=com.docker.compose.project={project}", "--format", "{{json .}}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
        )
        # Let the CLI start and subscribe before the timed command begins.
        time.sleep(0.3)

    def stop(self) -> list[dict]:
        time.sleep(0.2)
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        events = []
        for line in out.splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return events


def _event_time(event: dict) -> float:
    return int(event.get("timeNano", 0)) / 1e9 or float(event.get("time", 0))


def first_event(events: list[dict], container_id: str, action: str, after: float) -> float | None:
    times = [_event_time(e) for e in events
             if (e.get("Actor", {}).get("ID") or e.get("id")) == container_id
             and (e.get("Action") or e.get("status")) == action and _event_time(e) >= after]
    return min(times) if times else None


def inspect(container: str) -> dict:
    result = run(["docker", "inspect", container])
    require_ok(f"docker inspect {container}", result)
    return json.loads(result.stdout)[0]


def log_lines(container: str) -> list[tuple[float, str]]:
    """(epoch, text) of every log line of a container, both streams."""
    result = run(["docker", "logs", "--timestamps", container], timeout=60)
    lines = []
    for line in (result.stdout + result.stderr).splitlines():
        stamp, _, text = line.partition(" ")
        when = parse_docker_time(stamp)
        if when is not None:
            lines.append((when, text))
    return sorted(lines)


def ready_time(container: str, service: str, last: bool = False) -> float | None:
    """When the service logged that it accepts connections (the last time for
    postgres, whose image also runs a temporary server while initialising)."""
    matches = [when for when, text in log_lines(container) if READY_PATTERNS[service].search(text)]
    if not matches:
        return None
    return matches[-1] if last else matches[0]


def first_healthy_from_log(state: dict) -> float | None:
    """The end of the first passing probe, when Docker's five-entry health log
    still shows it (a failing probe before it, or fewer than five entries)."""
    entries = (state.get("Health") or {}).get("Log") or []
    for index, entry in enumerate(entries):
        if entry.get("ExitCode") == 0:
            if index > 0 or len(entries) < 5:
                return parse_docker_time(entry.get("End", ""))
            return None
    return None


@dataclass
class StartRun:
    kind: str
    rows: int
    seconds: float
    timeline: dict[str, float | None] = field(default_factory=dict)


def start_timeline(stack: Stack, t0: float, seconds: float, events: list[dict]) -> dict[str, float | None]:
    """Seconds after launch at which each service started, was ready by its
    own log, and was healthy by Docker; plus the derived gaps and the floor."""
    points: dict[str, float | None] = {}
    for service in SERVICES:
        container = stack.container(service)
        if not container:
            raise BenchError(f"{service} has no container after the start")
        details = inspect(container)
        started = parse_docker_time(details["State"].get("StartedAt", ""))
        ready = ready_time(container, service, last=(service == "postgres"))
        healthy = first_event(events, details["Id"], "health_status: healthy", t0 - 1)
        if healthy is None:
            healthy = first_healthy_from_log(details["State"])
        points[f"{service}_started"] = started
        points[f"{service}_ready"] = ready
        points[f"{service}_healthy"] = healthy
    timeline = {key: (None if value is None else value - t0) for key, value in points.items()}
    timeline["returned"] = seconds

    def diff(a: str, b: str) -> float | None:
        if timeline.get(a) is None or timeline.get(b) is None:
            return None
        return timeline[a] - timeline[b]

    timeline["gap_ready_to_langfuse_started"] = diff("langfuse_started", "postgres_ready")
    timeline["postgres_probe_delay"] = diff("postgres_healthy", "postgres_ready")
    timeline["compose_reaction"] = diff("langfuse_started", "postgres_healthy")
    timeline["langfuse_own_start"] = diff("langfuse_ready", "langfuse_started")
    healthy = [timeline[f"{s}_healthy"] for s in SERVICES]
    timeline["all_healthy"] = max(healthy) if None not in healthy else None
    timeline["tail_after_healthy"] = diff("returned", "all_healthy")
    # The floor: every service ready by its own log, langfuse started the
    # moment postgres was ready, no probe or poll latency anywhere.
    if None not in (timeline["postgres_ready"], timeline["langfuse_own_start"], timeline["redis_ready"]):
        timeline["floor"] = max(timeline["redis_ready"], timeline["postgres_ready"] + timeline["langfuse_own_start"])
    else:
        timeline["floor"] = None
    return timeline


# --- Idle cost: cgroups and /proc -----------------------------------------------------

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


def engine_processes(container_ids: list[str]) -> dict[str, list[int]]:
    """dockerd, containerd, and the containerd shims of the given containers."""
    found: dict[str, list[int]] = {"dockerd": [], "containerd": [], "shims": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            if comm == "dockerd":
                found["dockerd"].append(int(entry.name))
            elif comm == "containerd":
                found["containerd"].append(int(entry.name))
            elif comm.startswith("containerd-shim"):
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if any(cid in cmdline for cid in container_ids):
                    found["shims"].append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def measure_idle_window(stack: Stack, window: float, step: float) -> dict:
    """CPU per container and per engine process group over WINDOW seconds,
    sampled every STEP seconds; the rate is the median of the sub-windows, so
    a burst of someone else's work on a shared engine does not count."""
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

    samples = [sample()]
    began = samples[0][0]
    ticks = max(1, round(window / step))
    for tick in range(1, ticks + 1):
        time.sleep(max(0.0, began + tick * step - time.monotonic()))
        samples.append(sample())
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
    intervals = {}
    for service, (cid, _, _) in containers.items():
        check = inspect(cid)["Config"].get("Healthcheck") or {}
        disabled = not check or check.get("Test", [""])[0] == "NONE"
        # Docker's default interval is 30 s.
        intervals[service] = None if disabled else (check.get("Interval") or 30e9) / 1e9
    return {
        "rates": rates,
        "probe_intervals": intervals,
        "window_averages": totals,
        "memory": {service: cgroup.memory_bytes() for service, (_, cgroup, _) in containers.items()},
        "engine_pids": engine,
        "seconds": samples[-1][0] - began,
    }


# --- Waiting for a stack without healthchecks --------------------------------------------


def postgres_answers(stack: Stack) -> bool:
    import psycopg

    try:
        with clients.postgres(stack, connect_timeout=3) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def redis_answers(stack: Stack) -> bool:
    import redis

    cache = clients.redis_client(stack)
    try:
        return cache.ping() is True
    except redis.RedisError:
        return False
    finally:
        cache.close()


def langfuse_answers(stack: Stack) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", stack.ports["langfuse"], timeout=3)
        connection.request("GET", "/api/public/health")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


def wait_until_answering(stack: Stack, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if postgres_answers(stack) and redis_answers(stack) and langfuse_answers(stack):
            return
        time.sleep(0.5)
    raise BenchError(f"the stack without healthchecks did not answer within {timeout:.0f} s\n{stack.diagnostics()}")


# --- The benchmark ------------------------------------------------------------------------


@dataclass
class Results:
    overhead: dict = field(default_factory=dict)
    bash_floor: list[float] = field(default_factory=list)
    starts: dict[str, list[StartRun]] = field(default_factory=dict)  # "cold" / "warm" -> runs
    health: dict[int, dict[str, list[float]]] = field(default_factory=dict)  # rows -> kind -> seconds
    idle: list[dict] = field(default_factory=list)
    growth: dict[int, dict] = field(default_factory=dict)
    retries: list[str] = field(default_factory=list)


class Bench:
    def __init__(self, settings: Settings, compose: Compose, images: dict[str, str]):
        self.settings = settings
        self.compose = compose
        self.images = images
        self.stacks: list[Stack] = []
        self.scratch: list[Path] = []
        self.results = Results()
        # Containers of anyone else on this engine, seen between measurements.
        self.others_seen = 0

    def note_others(self) -> None:
        self.others_seen = max(self.others_seen, other_containers())

    # --- Stacks ---------------------------------------------------------------

    def new_stack(self) -> Stack:
        stack = Stack.create(self.compose, self.images)
        self.stacks.append(stack)
        (stack.root / NO_HEALTHCHECKS_FILE).write_text(NO_HEALTHCHECKS_YAML)
        # Created once, as start.sh would on a first run: the baseline needs it too.
        require_ok("init-env.sh", stack.script("init-env.sh"))
        return stack

    def cleanup(self) -> None:
        for stack in self.stacks:
            try:
                stack.destroy()
            except Exception as exc:  # keep cleaning the others
                print(f"bench: could not remove {stack.project}: {exc}", file=sys.stderr)
        for path in self.scratch:
            force_rmtree(path)

    def down(self, stack: Stack) -> None:
        require_ok("docker compose down", stack.compose_cli("down", "--remove-orphans", timeout=300))

    def wipe(self, stack: Stack) -> None:
        """No containers, no network, no data: a fresh clone's state (with .env.infra)."""
        self.down(stack)
        for folder in DATA_FOLDERS:
            force_rmtree(stack.root / "volumes" / folder, helper_image=self.images["postgres"])
        time.sleep(1)

    def stop(self, stack: Stack) -> None:
        """Containers and network removed, data kept: what stop.sh leaves."""
        require_ok("stop.sh", stack.script("stop.sh"))
        time.sleep(1)

    def start(self, stack: Stack, kind: str, rows: int) -> StartRun:
        t0 = time.time()
        events = EventStream(stack.project, since=t0)
        t0 = time.time()
        began = time.perf_counter()
        try:
            if kind == SCRIPTS:
                result = stack.script("start.sh")
            else:
                result = stack.compose_cli("up", "-d", "--wait", timeout=900)
            seconds = time.perf_counter() - began
        finally:
            captured = events.stop()
        if result.returncode != 0:
            raise BenchError(f"{'start.sh' if kind == SCRIPTS else 'docker compose up -d --wait'} failed "
                             f"(exit {result.returncode})\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n"
                             f"{stack.diagnostics()}")
        timeline = start_timeline(stack, t0, seconds, captured)
        self.note_others()
        return StartRun(kind, rows, seconds, timeline)

    def no_healthcheck_compose(self, stack: Stack, *args: str) -> subprocess.CompletedProcess:
        files = ["docker-compose.yml", "docker-compose.override.yml", NO_HEALTHCHECKS_FILE]
        command = [*self.compose.command, "--project-name", stack.project, "--env-file", ".env.infra"]
        for name in files:
            command += ["-f", name]
        return run([*command, *args], cwd=stack.root, env=stack.env(), timeout=600)

    def attempt(self, label: str, action):
        """Runs one measurement (its preparation included), again after a failure."""
        for number in range(RETRIES + 1):
            try:
                return action()
            except BenchError as exc:
                if number == RETRIES:
                    raise
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.results.retries.append(f"{label}: {first_line}")
                log(f"{label} failed, measuring it again: {first_line}")

    # --- Phases ---------------------------------------------------------------

    def overhead(self) -> None:
        """--help and a usage error of every script, against Compose's own."""
        runs = self.settings.overhead_runs
        base = Path(tempfile.mkdtemp(prefix="transbot-bench-"))
        self.scratch.append(base)
        root = copy_repository(base / "repo")
        # A pristine clone: no .env.infra, no stack; only the environment helper is used.
        clone = Stack(root=root, compose=self.compose, images=self.images)
        env = clone.env()

        def timed(command: list[str]) -> tuple[float, int]:
            began = time.perf_counter()
            completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=base,
                                       stdin=subprocess.DEVNULL, timeout=60)
            return time.perf_counter() - began, completed.returncode

        for _ in range(runs):
            self.results.bash_floor.append(timed(["bash", "--noprofile", "--norc", "-c", ":"])[0])
        baselines = {"help": [*self.compose.command, "--help"],
                     "usage": [*self.compose.command, UNKNOWN_OPTION]}
        for script in sorted((root / "scripts").glob("*.sh")):
            entry = {}
            for mode, arg in (("help", "--help"), ("usage", UNKNOWN_OPTION)):
                command = [str(script), arg]
                _, code = timed(command)  # also warms the page cache
                expected = 0 if mode == "help" else 2
                if code != expected:
                    entry[mode] = {"exit": code, "not_applicable": True}
                    continue
                measured, baseline = [], []
                for index in range(runs):
                    pair = [(measured, command), (baseline, baselines[mode])]
                    for target, cmd in (pair if index % 2 == 0 else pair[::-1]):
                        seconds, code = timed(cmd)
                        if target is measured and code != expected:
                            raise BenchError(f"{script.name} {arg} exited {code}, expected {expected}")
                        target.append(seconds)
                entry[mode] = {"scripts": measured, "baseline": baseline}
            self.results.overhead[script.name] = entry
            help_median = median(entry["help"]["scripts"]) if "scripts" in entry["help"] else None
            log(f"overhead {script.name}: --help {fmt_seconds(help_median)}")

    def cold(self, stack: Stack) -> None:
        runs = self.results.starts.setdefault("cold", [])
        for index in range(self.settings.repeat):
            order = (SCRIPTS, BASELINE) if index % 2 == 0 else (BASELINE, SCRIPTS)
            for kind in order:
                result = self.attempt(f"cold start {index + 1} {kind}",
                                      lambda kind=kind: (self.wipe(stack), self.start(stack, kind, 0))[1])
                runs.append(result)
                log(f"cold start {index + 1}/{self.settings.repeat} {kind}: {fmt_seconds(result.seconds)}")

    def warm(self, stack: Stack, rows: int) -> None:
        runs = self.results.starts.setdefault("warm", [])
        for index in range(self.settings.repeat):
            order = (SCRIPTS, BASELINE) if index % 2 == 0 else (BASELINE, SCRIPTS)
            for kind in order:
                result = self.attempt(f"warm start {rows} rows {index + 1} {kind}",
                                      lambda kind=kind: (self.stop(stack), self.start(stack, kind, rows))[1])
                runs.append(result)
                log(f"warm start, {rows} rows, {index + 1}/{self.settings.repeat} {kind}: {fmt_seconds(result.seconds)}")

    def health(self, stack: Stack, rows: int) -> None:
        self.results.health[rows] = self.attempt(f"health check {rows} rows", lambda: self._health(stack))
        samples = self.results.health[rows]
        log(f"health-check.sh, {rows} rows: {fmt_seconds(median(samples[SCRIPTS]))}"
            f" (docker compose ps {fmt_seconds(median(samples[BASELINE]))})")

    def _health(self, stack: Stack) -> dict[str, list[float]]:
        samples: dict[str, list[float]] = {SCRIPTS: [], BASELINE: []}
        for index in range(self.settings.fast_runs):
            order = (SCRIPTS, BASELINE) if index % 2 == 0 else (BASELINE, SCRIPTS)
            for kind in order:
                began = time.perf_counter()
                if kind == SCRIPTS:
                    result = stack.script("health-check.sh")
                else:
                    result = stack.compose_cli("ps")
                samples[kind].append(time.perf_counter() - began)
                require_ok("health-check.sh" if kind == SCRIPTS else "docker compose ps", result)
        self.note_others()
        return samples

    def idle(self, stack: Stack) -> None:
        settle, window, step = self.settings.idle_settle, self.settings.idle_window, self.settings.idle_step
        for index in range(self.settings.idle_rounds):
            round_result = {}
            for config in ("healthchecks", "no_healthchecks"):
                def window_of(config=config) -> dict:
                    self.stop(stack)
                    if config == "healthchecks":
                        self.start(stack, SCRIPTS, -1)
                    else:
                        require_ok("compose up without healthchecks",
                                   self.no_healthcheck_compose(stack, "up", "-d"))
                        wait_until_answering(stack)
                    time.sleep(settle)
                    return measure_idle_window(stack, window, step)

                round_result[config] = self.attempt(f"idle {index + 1} {config}", window_of)
                self.note_others()
                rates = round_result[config]["rates"]
                log(f"idle {index + 1}/{self.settings.idle_rounds} {config}: containers "
                    f"{fmt_cpu(sum(rates[s] for s in SERVICES))}, engine "
                    f"{fmt_cpu(rates['dockerd'] + rates['containerd'] + rates['shims'])}")
            self.results.idle.append(round_result)
        # Leave the stack as the scripts run it.
        self.stop(stack)
        self.start(stack, SCRIPTS, -1)

    def grow(self, stack: Stack, rows: int) -> None:
        import psycopg

        values = stack.env_file()
        began = time.perf_counter()
        with psycopg.connect(host="127.0.0.1", port=stack.ports["postgres"],
                             user=values.get("POSTGRES_USER", "transbot_user"), password=values["POSTGRES_PASSWORD"],
                             dbname=values.get("POSTGRES_DB", "transbot"), connect_timeout=10) as conn:
            conn.execute(
                "INSERT INTO transbot.users (external_id, display_name, preferred_source_lang, preferred_target_lang)"
                " SELECT 'bench-user-' || g, 'Bench user ' || g, 'en', 'de' FROM generate_series(1, 1000) g"
                " ON CONFLICT (external_id) DO NOTHING")
            conn.commit()
            have = conn.execute("SELECT count(*) FROM transbot.translations").fetchone()[0]
            batch = 100_000
            while have < rows:
                upto = min(rows, have + batch)
                conn.execute(
                    """
                    WITH u AS (SELECT array_agg(id ORDER BY id) AS ids FROM transbot.users
                               WHERE external_id LIKE 'bench-user-%%')
                    INSERT INTO transbot.translations
                        (user_id, session_id, source_lang, target_lang, detected_lang, source_text,
                         translated_text, model, prompt_version, input_tokens, output_tokens, cost_usd,
                         latency_ms, status, langfuse_trace_id, created_at)
                    SELECT u.ids[1 + g %% cardinality(u.ids)], 'bench-session-' || (g / 20), NULL, 'de', 'en',
                           'Benchmark sentence number ' || g || ' about the weather, the train and dinner.',
                           'Benchmark-Satz Nummer ' || g || ' über das Wetter, den Zug und das Abendessen.',
                           'gpt-4o-mini', 'v3', 20 + g %% 80, 25 + g %% 90, (g %% 100) / 100000.0,
                           200 + g %% 1500, 'succeeded', md5(g::text), now() - make_interval(secs => g)
                    FROM u, generate_series(%s::bigint, %s::bigint) g
                    """,
                    (have + 1, upto),
                )
                conn.commit()
                have = upto
            conn.autocommit = True
            conn.execute("ANALYZE transbot.translations")
            conn.execute("CHECKPOINT")
            count = conn.execute("SELECT count(*) FROM transbot.translations").fetchone()[0]
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        if count != rows:
            raise BenchError(f"wanted {rows} translation rows, the table has {count}")
        self.results.growth[rows] = {"insert_seconds": time.perf_counter() - began, "database_bytes": size}
        log(f"database grown to {rows} translation rows ({size / 2**20:.0f} MiB) "
            f"in {time.perf_counter() - began:.1f} s")

    def run(self) -> None:
        log("script overhead (--help and usage errors)")
        self.overhead()
        stack = self.new_stack()
        log(f"stack {stack.project} in {stack.root}")
        self.cold(stack)
        self.warm(stack, 0)
        self.health(stack, 0)
        self.results.growth[0] = {"insert_seconds": 0.0, "database_bytes": None}
        self.idle(stack)
        for rows in self.settings.row_counts[1:]:
            self.grow(stack, rows)
            self.warm(stack, rows)
            self.health(stack, rows)
        self.wipe(stack)


# --- The machine ----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    info: dict[str, str] = {}
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    info["cpu"] = f"{cpu}, {os.cpu_count()} cores"
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        info["memory"] = f"{kib / 2**20:.1f} GiB"
    except (OSError, AttributeError):
        info["memory"] = "unknown"
    os_name = platform.system()
    try:
        os_name = re.search(r'^PRETTY_NAME="?([^"\n]*)', Path("/etc/os-release").read_text(), re.M).group(1)
    except (OSError, AttributeError):
        pass
    info["os"] = f"{os_name}, kernel {platform.release()}"
    engine = run(["docker", "info", "--format",
                  "{{.ServerVersion}}|{{.CgroupVersion}}|{{.CgroupDriver}}|{{.Driver}}|{{.NCPU}}|{{.MemTotal}}"])
    parts = engine.stdout.strip().split("|")
    if engine.returncode == 0 and len(parts) == 6:
        info["docker"] = (f"Docker Engine {parts[0]} (cgroup v{parts[1]}, {parts[2]} driver, {parts[3]} storage)")
    else:
        info["docker"] = "Docker Engine (version unknown)"
    versions = []
    for name, found in compose_variants().items():
        versions.append(f"{name} {found.version}" if isinstance(found, Compose) else f"{name} unavailable")
    info["compose"] = "Compose " + ", ".join(versions)
    info["python"] = f"Python {platform.python_version()}"
    return info


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def other_containers() -> int:
    """Running containers that are not this run's (other test runs included)."""
    own = f"{PROJECT_PREFIX}{os.getpid()}x"
    result = run(["docker", "ps", "--format", '{{.Label "com.docker.compose.project"}}'])
    return sum(1 for name in result.stdout.splitlines() if not name.startswith(own))


def image_mode(images: dict[str, str]) -> str:
    standin = all(image.startswith("transbot-standin/") for image in images.values())
    names = ", ".join(images[s] for s in SERVICES)
    return f"{'local stand-ins' if standin else 'official images'} ({names})"


# --- The report ---------------------------------------------------------------------------------


def build_rows(results: Results, settings: Settings) -> list[list[str]]:
    rows: list[list[str]] = []

    def section(title: str) -> None:
        rows.append([f"**{title}**", "", "", "", "", ""])

    def start_rows(label: str, runs: list[StartRun], gap_label: str | None) -> None:
        measured = [r for r in runs if r.kind == SCRIPTS]
        baseline = [r for r in runs if r.kind == BASELINE]
        m = [r.seconds for r in measured]
        b = [r.seconds for r in baseline]
        ratio = paired_ratio(m, b)
        rows.append([label, summary(m, fmt_seconds), summary(b, fmt_seconds), fmt_ratio(ratio),
                     f"ratio ≤ {START_RATIO_TARGET:.2f}", met(None if ratio is None else ratio <= START_RATIO_TARGET)])
        fm = [r.timeline.get("floor") for r in measured]
        fb = [r.timeline.get("floor") for r in baseline]
        rows.append(["… floor: the services' own start, no probe or poll latency", summary(fm, fmt_seconds),
                     summary(fb, fmt_seconds), fmt_ratio(paired_ratio(fm, fb)), "", "—"])
        if gap_label:
            gm = [r.timeline.get("gap_ready_to_langfuse_started") for r in measured]
            gb = [r.timeline.get("gap_ready_to_langfuse_started") for r in baseline]
            gm_ok = [g for g in gm if g is not None]
            rows.append([gap_label, summary(gm, fmt_seconds), summary(gb, fmt_seconds),
                         fmt_ratio(paired_ratio(gm, gb)), f"≤ {GAP_TARGET_S:.0f} s",
                         met(median(gm_ok) <= GAP_TARGET_S if gm_ok else None)])

    starts = results.starts
    section("Cold start: empty volumes/ → every service healthy")
    start_rows("`start.sh` vs `docker compose up -d --wait`", starts.get("cold", []),
               "postgres ready → langfuse started")
    section("Warm start: data kept, containers removed by stop.sh")
    warm = starts.get("warm", [])
    start_rows("`start.sh` vs `docker compose up -d --wait`", [r for r in warm if r.rows == 0],
               "postgres ready → langfuse started")

    section("Health check on a healthy stack")
    health0 = results.health.get(0)
    if health0:
        hm, hb = health0[SCRIPTS], health0[BASELINE]
        rows.append(["`health-check.sh` vs `docker compose ps`", summary(hm, fmt_seconds), summary(hb, fmt_seconds),
                     fmt_ratio(paired_ratio(hm, hb)), f"median < {HEALTH_CHECK_TARGET_S:.0f} s",
                     met(median(hm) < HEALTH_CHECK_TARGET_S)])

    if results.idle:
        section(f"Idle cost over {settings.idle_window:.0f} s at rest, CPU in % of one core "
                f"(baseline: the same stack with healthchecks off)")
        on = [r["healthchecks"]["rates"] for r in results.idle]
        off = [r["no_healthchecks"]["rates"] for r in results.idle]

        def containers(rates):
            return sum(rates[s] for s in SERVICES)

        def engine(rates):
            return rates["dockerd"] + rates["containerd"] + rates["shims"]

        probes_in = [containers(a) - containers(b) for a, b in zip(on, off)]
        probes_engine = [engine(a) - engine(b) for a, b in zip(on, off)]
        probes = [x + y for x, y in zip(probes_in, probes_engine)]
        services = [containers(b) for b in off]
        whole = [s + p for s, p in zip(services, probes)]
        rows.append(["CPU, whole stack (services + healthchecks)", summary(whole, fmt_cpu),
                     summary(services, fmt_cpu), fmt_ratio(paired_ratio(whole, services)), "", "—"])
        for service in SERVICES:
            rows.append([f"… {service} container (with its probes)", summary([r[service] for r in on], fmt_cpu),
                         summary([r[service] for r in off], fmt_cpu),
                         fmt_ratio(paired_ratio([r[service] for r in on], [r[service] for r in off])), "", "—"])
        rows.append(["CPU, healthchecks together (on − off)", summary(probes, fmt_cpu), "0 (off)", "",
                     f"< {HEALTHCHECK_CPU_TARGET * 100:.0f} %",
                     met(median(probes) < HEALTHCHECK_CPU_TARGET)])
        intervals = results.idle[0]["healthchecks"]["probe_intervals"]
        per_second = sum(1 / i for i in intervals.values() if i)
        if per_second:
            rows.append([f"… per probe ({per_second * 60:.0f} probes a minute: "
                         + ", ".join(f"{s} every {intervals[s]:g} s" for s in SERVICES if intervals[s]) + ")",
                         summary([p / per_second for p in probes], fmt_seconds) + " of CPU", "", "", "", "—"])
        rows.append(["… of which the probe commands in the containers", summary(probes_in, fmt_cpu), "", "", "", "—"])
        rows.append(["… of which dockerd, containerd, shims and runc", summary(probes_engine, fmt_cpu), "", "", "", "—"])
        for service in SERVICES:
            mem_on = [r["healthchecks"]["memory"][service] for r in results.idle]
            mem_off = [r["no_healthchecks"]["memory"][service] for r in results.idle]
            rows.append([f"memory, {service}", summary(mem_on, fmt_mib), summary(mem_off, fmt_mib),
                         fmt_ratio(paired_ratio(mem_on, mem_off)), "", "—"])

    if results.overhead:
        section("Script overhead, no engine work (baseline: the same with `docker compose`)")
        for name, entry in results.overhead.items():
            for mode, label in (("help", f"`{name} --help`"), ("usage", f"`{name} {UNKNOWN_OPTION}`")):
                data = entry.get(mode, {})
                if data.get("not_applicable"):
                    rows.append([label, f"n/a (exit {data['exit']}: no usage error, options go through)",
                                 "", "", "", "—"])
                    continue
                m, b = data["scripts"], data["baseline"]
                rows.append([label, summary(m, fmt_seconds), summary(b, fmt_seconds), fmt_ratio(paired_ratio(m, b)),
                             f"< {OVERHEAD_TARGET_S * 1000:.0f} ms", met(median(m) < OVERHEAD_TARGET_S)])

    section("Growth: the TransBot database (translation rows)")
    for count in settings.row_counts:
        runs = [r for r in warm if r.rows == count]
        label = f"{count:,}".replace(",", " ")
        size = results.growth.get(count, {}).get("database_bytes")
        size_text = f", {size / 2**20:.0f} MiB" if size else ""
        if runs:
            m = [r.seconds for r in runs if r.kind == SCRIPTS]
            b = [r.seconds for r in runs if r.kind == BASELINE]
            ratio = paired_ratio(m, b)
            same = " (the warm start above)" if count == 0 else ""
            rows.append([f"warm start, {label} rows{size_text}{same}", summary(m, fmt_seconds), summary(b, fmt_seconds),
                         fmt_ratio(ratio), f"ratio ≤ {START_RATIO_TARGET:.2f}",
                         met(None if ratio is None else ratio <= START_RATIO_TARGET)])
        health = results.health.get(count)
        if health:
            hm, hb = health[SCRIPTS], health[BASELINE]
            rows.append([f"`health-check.sh`, {label} rows", summary(hm, fmt_seconds), summary(hb, fmt_seconds),
                         fmt_ratio(paired_ratio(hm, hb)), f"median < {HEALTH_CHECK_TARGET_S:.0f} s",
                         met(median(hm) < HEALTH_CHECK_TARGET_S)])
    return rows


TIMELINE_ROWS = (
    ("postgres_started", "postgres container started"),
    ("postgres_ready", "postgres ready (its log)"),
    ("postgres_healthy", "postgres healthy (first passing probe)"),
    ("langfuse_started", "langfuse container started"),
    ("langfuse_ready", "langfuse ready (its log)"),
    ("langfuse_healthy", "langfuse healthy"),
    ("redis_healthy", "redis healthy"),
    ("all_healthy", "every service healthy"),
    ("returned", "command returned"),
    ("tail_after_healthy", "… of which after every service was healthy"),
    ("floor", "floor (services' own start)"),
)


def timeline_table(results: Results) -> list[str]:
    """Where the start time goes: medians, in seconds after the command began."""
    columns = []
    for phase in ("cold", "warm"):
        for kind in (SCRIPTS, BASELINE):
            runs = [r for r in results.starts.get(phase, []) if r.kind == kind and r.rows in (0,)]
            columns.append((f"{phase}, {'start.sh' if kind == SCRIPTS else 'compose --wait'}", runs))
    lines = ["| seconds after launch (median) | " + " | ".join(name for name, _ in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for key, label in TIMELINE_ROWS:
        cells = []
        for _, runs in columns:
            values = [r.timeline.get(key) for r in runs if r.timeline.get(key) is not None]
            cells.append(f"{median(values):.2f}" if values else "n/a")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def interval_text(results: Results) -> str:
    """The healthcheck intervals the run saw, e.g. "postgres 2 s, langfuse 3 s"."""
    intervals = results.idle[0]["healthchecks"]["probe_intervals"] if results.idle else {}
    known = [f"{service} {intervals[service]:g} s" for service in SERVICES if intervals.get(service)]
    return ", ".join(known) if known else "see docker-compose.yml"


def render(results: Results, settings: Settings, info: dict[str, str], meta: dict[str, str]) -> str:
    rows = build_rows(results, settings)
    header = ["measurement", "scripts (median)", "baseline (median)", "ratio", "target", "met?"]
    lines = [
        "# TransBot stack benchmark",
        "",
        f"- **Run:** {meta['date']}, {meta['mode']}, took {meta['duration']}; images: {meta['images']}.",
        f"- **Machine:** {info['cpu']}, {info['memory']} RAM; {info['os']}; {info['docker']}; "
        f"{info['compose']}; {info['python']}.",
        f"- **Engine load:** {meta['load']}",
        "",
        "| " + " | ".join(header) + " |",
        "|---|---|---|---:|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "Where the start time goes:", ""]
    lines += timeline_table(results)
    floor = median(results.bash_floor) if results.bash_floor else None
    lines += [
        "",
        "How to read it:",
        "",
        "- *scripts* runs `./scripts/*.sh` (Compose v2 through `COMPOSE_COMMAND`); *baseline* runs raw "
        "`docker compose --project-name P --env-file .env.infra …` on the same repository copy, files and ports. "
        "Cells show the median and [min–max]; *ratio* is the median of per-round ratios, and each round runs "
        "both back to back, alternating which goes first, so drift cancels.",
        "- Cold runs start from no containers, no network and no `volumes/postgres` or `volumes/redis` "
        "(`.env.infra` exists); warm runs from what `stop.sh` leaves (containers removed, data kept).",
        "- *postgres ready* is its log line \"ready to accept connections\"; *healthy* is Docker's first "
        "passing probe (`docker events`); *langfuse started* is its `State.StartedAt`. The floor is when every "
        "service would be ready by its own log if langfuse had started the moment postgres was ready: no start "
        "can beat it. The gap above it is Docker's first probe, which runs one `interval` after the container "
        f"starts ({interval_text(results)}), Compose's reaction to `healthy`, and, for `start.sh`, "
        "its health poll (every 0.25 s) and the client probes it runs after Docker says healthy.",
        f"- Health check: `health-check.sh` runs a client probe per service (`docker exec psql`, "
        f"`docker exec redis-cli`, HTTP) in parallel, so it is bounded by the slowest `docker exec` "
        f"(tens to hundreds of ms each); `docker compose ps` only asks the engine.",
        f"- Idle CPU is read from each container's cgroup (cpuacct on cgroup v1, cpu.stat on v2) and from "
        f"/proc for dockerd, containerd and the containers' shims (whose child time includes `runc exec`), "
        f"sampled every {settings.idle_step:g} s over {settings.idle_window:g} s after {settings.idle_settle:g} s "
        f"of rest; a rate is the median of the sub-windows ({settings.idle_rounds} round(s), each a fresh start "
        f"with healthchecks on, then off). On cgroup v1 a probe runs inside the container's cgroup, so the "
        f"healthcheck cost is the difference between the two configurations: in the containers plus in the "
        f"engine. The engine is shared, so its share is the noisiest figure. Memory is the working set "
        f"(usage minus inactive page cache) at the end of the window.",
        f"- Script overhead is measured in a pristine clone (no `.env.infra`), {settings.overhead_runs} runs "
        f"each after one warm-up; the floor is bash itself: `bash -c :` takes {fmt_seconds(floor)}. The "
        f"baseline is Compose's own `--help` and unknown-option error. `psql.sh` and `redis-cli.sh` pass "
        f"options through to psql and redis-cli, so they have no usage error.",
        "- Growth inserts `transbot.users` then `transbot.translations` rows with `INSERT … SELECT "
        "generate_series` through psycopg, runs ANALYZE and CHECKPOINT, then repeats the warm start and health "
        "check. PostgreSQL's start does not read table data after a clean shutdown, so neither should grow.",
    ]
    if results.idle:
        on = [r["healthchecks"]["rates"] for r in results.idle]
        off = [r["no_healthchecks"]["rates"] for r in results.idle]
        inside = median([sum(a[s] for s in SERVICES) - sum(b[s] for s in SERVICES) for a, b in zip(on, off)])
        verdict = ("exceeds the healthcheck target on its own, whatever the engine's share"
                   if inside >= HEALTHCHECK_CPU_TARGET else "is within the healthcheck target")
        lines.append(f"- The healthchecks' cost inside the containers alone ({fmt_cpu(inside)} of one core, "
                     f"the quiet part of the measurement) {verdict}.")
    if results.retries:
        lines.append(f"- {len(results.retries)} measurement(s) failed and were taken again: "
                     + "; ".join(results.retries))
    if meta.get("standins"):
        lines.append(
            "- These figures come from the offline stand-in images, not the official ones: start times and memory "
            "are the stand-ins' (their langfuse is a small Python server, not Next.js with ~270 Prisma "
            "migrations), so absolute times and memory understate the official stack. What the scripts add, "
            "the healthchecks' cost per probe and the Compose reaction times do not depend on the images.")
    lines.append("")
    return "\n".join(lines)


# --- Main ------------------------------------------------------------------------------------


def rerender(settings: Settings) -> int:
    """The table of an earlier run, from its raw samples, e.g. after the notes changed."""
    try:
        raw = json.loads(settings.from_json.read_text())
        saved = raw["settings"]
        results = Results(
            overhead=raw["overhead"],
            bash_floor=raw["bash_floor"],
            starts={phase: [StartRun(**run) for run in runs] for phase, runs in raw["starts"].items()},
            health={int(rows): samples for rows, samples in raw["health"].items()},
            idle=raw["idle"],
            growth={int(rows): data for rows, data in raw["growth"].items()},
            retries=raw.get("retries", []),
        )
        old = Settings(**{**saved, "output": Path(saved["output"]), "from_json": None})
    except (OSError, KeyError, TypeError, ValueError) as exc:
        print(f"bench: error: cannot read {settings.from_json}: {exc}", file=sys.stderr)
        return 1
    markdown = render(results, old, raw["machine"], raw["meta"])
    print(markdown)
    settings.output.parent.mkdir(parents=True, exist_ok=True)
    settings.output.write_text(markdown)
    return 0


def main(argv: list[str]) -> int:
    settings = parse_args(argv)
    if settings.from_json is not None:
        return rerender(settings)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.time()
    bench = None
    try:
        problem = engine_problem()
        if problem:
            raise BenchError(problem)
        found = compose_variants().get("v2")
        if not isinstance(found, Compose):
            raise BenchError(f"the baseline needs Compose v2: {found}")
        removed = remove_stale_projects()
        if removed:
            log(f"removed stale test stacks: {', '.join(sorted(removed))}")
        log("images (tests/images/build.sh reuses current stand-ins)")
        images = test_images()
        info = machine()
        others_before = other_containers()
        load_before = load_average()
        bench = Bench(settings, found, images)
        bench.run()
        others_after = other_containers()
        load_after = load_average()
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        print("bench: error: the benchmark failed (see above)", file=sys.stderr)
        return 1
    finally:
        if bench is not None:
            log("removing the benchmark's stacks")
            bench.cleanup()
    duration = time.time() - started
    meta = {
        "date": datetime.fromtimestamp(started, timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": (f"quick mode ({settings.repeat} repetition, {settings.idle_window:g} s idle window)"
                 if settings.quick else f"{settings.repeat} repetitions, {settings.idle_window:g} s idle windows"),
        "duration": f"{duration / 60:.1f} min",
        "images": image_mode(images),
        "standins": all(image.startswith("transbot-standin/") for image in images.values()),
        "load": (f"{others_before} other container(s) on this engine at the start, {others_after} at the end, "
                 f"up to {max(bench.others_seen, others_before, others_after)} between measurements; "
                 f"1-minute load average {load_before} at the start, {load_after} at the end "
                 f"(other work shares the CPUs and dockerd)."),
    }
    markdown = render(bench.results, settings, info, meta)
    print(markdown)
    settings.output.parent.mkdir(parents=True, exist_ok=True)
    settings.output.write_text(markdown)
    raw = {
        "meta": meta,
        "machine": info,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(settings).items()
                     if k != "from_json"},
        "overhead": bench.results.overhead,
        "bash_floor": bench.results.bash_floor,
        "starts": {phase: [vars(r) for r in runs] for phase, runs in bench.results.starts.items()},
        "health": bench.results.health,
        "idle": bench.results.idle,
        "growth": bench.results.growth,
        "retries": bench.results.retries,
    }
    settings.output.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str))
    log(f"wrote {settings.output} and {settings.output.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

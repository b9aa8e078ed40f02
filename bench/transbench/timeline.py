"""The engine's view of one start: `docker events`, `docker inspect` and the
services' own log lines, turned into a timeline of seconds after launch."""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field

from support.engine import run
from support.stack import SERVICES, Stack

from .common import BenchError, parse_docker_time, require_ok

# Log lines that say a service is ready to serve (official images and stand-ins).
READY_PATTERNS = {
    "postgres": re.compile(r"database system is ready to accept connections"),
    "redis": re.compile(r"Ready to accept connections"),
    "langfuse": re.compile(r"✓ Ready|Ready in \d"),
}



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
    return derive(timeline)


def derive(timeline: dict[str, float | None]) -> dict[str, float | None]:
    """Adds the gaps, the floor and the tails to a timeline of seconds after
    launch (each service's started, ready and healthy, and returned)."""

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
    # What the command adds after the last service said it was ready: probe
    # latency, Compose's reaction, the scripts' own poll and client probes.
    ready = [timeline[f"{s}_ready"] for s in SERVICES]
    timeline["last_ready"] = max(ready) if None not in ready else None
    timeline["tail_after_ready"] = diff("returned", "last_ready")
    return timeline


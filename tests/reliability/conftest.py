"""Fixtures of the reliability layer.

- `figures`: the measured numbers of this run (writes acknowledged and
  found after crashes, cycles run, hostile cases tried). They are printed
  at the end of the session (visible with -s) and written to
  tests/reliability/.last-report.json (git-ignored) with the date, the
  command and the machine of the run; the sessions of one run
  (pytest-xdist workers, ./tests/run.sh's phases) add theirs to it.
  `python3 docs/generate.py --publish-reliability` takes it into
  tests/reliability/results/published.json, what docs/reliability.md shows.
- `module_stack`: builds a stack shared by the tests of one module, always
  destroyed at the end of the module.
- Diagnostics of a module's stack are printed when one of its tests fails.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import platform
import re
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from support.engine import Compose, compose_variants, run
from support.stack import Stack

REPORT = Path(__file__).resolve().parent / ".last-report.json"


class Figures(dict):
    """Measured numbers, by topic."""

    def __init__(self):
        super().__init__()
        self.counted: set[str] = set()  # "topic.key" of the counts: they add up across sessions
        self.about: dict[str, str] = {}  # the command and the machine of the run, not figures

    def record(self, topic: str, **values) -> None:
        self.setdefault(topic, {}).update(values)

    def count(self, topic: str, key: str, by: int = 1) -> None:
        entry = self.setdefault(topic, {})
        entry[key] = entry.get(key, 0) + by
        self.counted.add(f"{topic}.{key}")


def _run_id() -> str:
    """One id for every session of one run: ./tests/run.sh's phases and
    users (TRANSBOT_TEST_RUN), or the workers of one `pytest -n`."""
    return os.environ.get("TRANSBOT_TEST_RUN") or os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex


def _machine() -> dict[str, str]:
    """What the run ran on, for the published figures: CPU, memory and OS;
    the engine and the Composes; the images."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M).group(1).strip()
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f", {kib / 2**20:.1f} GiB RAM"
    except (OSError, AttributeError):
        cpu, memory = platform.processor() or "unknown CPU", ""
    try:
        system = re.search(r'^PRETTY_NAME="?([^"\n]*)', Path("/etc/os-release").read_text(), re.M).group(1)
    except (OSError, AttributeError):
        system = platform.system()
    engine = run(["docker", "version", "--format", "{{.Server.Version}}"]).stdout.strip() or "unknown"
    composes = ", ".join(f"{name} {found.version}" for name, found in compose_variants().items()
                         if isinstance(found, Compose))
    return {
        "machine": f"{cpu}, {os.cpu_count()} cores{memory}; {system}, kernel {platform.release()}",
        "engine": f"Docker Engine {engine}, Compose {composes or 'unavailable'}",
        "images": f"TRANSBOT_TEST_IMAGES={os.environ.get('TRANSBOT_TEST_IMAGES', 'auto')}",
    }


def _merge(earlier: dict, collected: Figures, seconds: float, run: str) -> dict:
    """This session's figures added to those of earlier sessions of the same run."""
    same_run = earlier.get("run") == run
    merged = {key: dict(value) for key, value in earlier.items() if same_run and isinstance(value, dict)}
    counted = set(earlier.get("counted", [])) if same_run else set()
    for topic, values in collected.items():
        entry = merged.setdefault(topic, {})
        for key, value in values.items():
            adds = f"{topic}.{key}" in collected.counted
            entry[key] = entry.get(key, 0) + value if adds else value
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        **merged,
        **collected.about,
        "date": earlier["date"] if same_run and earlier.get("date") else now.strftime("%Y-%m-%d %H:%M UTC"),
        "run": run,
        "counted": sorted(counted | collected.counted),
        "written_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": max(round(seconds, 1), earlier.get("seconds", 0) if same_run else 0),
    }


def _write_report(collected: Figures, seconds: float) -> dict:
    """Merges into REPORT under a lock; replaced, not rewritten, so a root
    and a non-root session can both write it in a folder the user owns."""
    folder = os.open(REPORT.parent, os.O_RDONLY)  # flock on the folder: no extra lock file
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        try:
            earlier = json.loads(REPORT.read_text())
        except (FileNotFoundError, ValueError):
            earlier = {}
        summary = _merge(earlier, collected, seconds, _run_id())
        with tempfile.NamedTemporaryFile("w", dir=REPORT.parent, prefix=".last-report.", delete=False) as out:
            out.write(json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        os.chmod(out.name, 0o644)
        os.replace(out.name, REPORT)
    finally:
        os.close(folder)
    return summary


@pytest.fixture(scope="session")
def figures(request):
    collected = Figures()
    began = time.monotonic()
    yield collected
    if not collected:
        return
    args = " ".join(request.config.invocation_params.args)
    collected.about = {"command": f"pytest {args}".strip(), **_machine()}
    summary = _write_report(collected, time.monotonic() - began)
    print("\n===== reliability figures (also in tests/reliability/.last-report.json) =====")
    print(json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False))


@pytest.fixture(scope="module")
def module_stack(request, engine, images, compose_v2):
    """A Compose v2 stack for one module; its tests share it, in order."""
    stacks: list[Stack] = []

    def factory() -> Stack:
        stack = Stack.create(compose_v2, images)
        stacks.append(stack)
        return stack

    request.node.reliability_stacks = stacks
    yield factory
    for stack in stacks:
        stack.destroy()


@pytest.fixture(autouse=True)
def _diagnostics_on_failure(request):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed:
        return
    module = request.node.getparent(pytest.Module)
    for stack in getattr(module, "reliability_stacks", []):
        print(f"\n===== diagnostics for {stack.project} =====\n{stack.diagnostics()}")

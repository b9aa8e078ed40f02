"""Fixtures of the reliability layer.

- `figures`: the measured numbers of this run (writes acknowledged and
  found after crashes, cycles run, hostile cases tried). They are printed
  at the end of the session (visible with -s) and written to
  tests/reliability/.last-report.json (git-ignored).
- `module_stack`: builds a stack shared by the tests of one module, always
  destroyed at the end of the module.
- Diagnostics of a module's stack are printed when one of its tests fails.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import pytest

from support.stack import Stack

REPORT = Path(__file__).resolve().parent / ".last-report.json"


class Figures(dict):
    """Measured numbers, by topic."""

    def record(self, topic: str, **values) -> None:
        self.setdefault(topic, {}).update(values)

    def count(self, topic: str, key: str, by: int = 1) -> None:
        entry = self.setdefault(topic, {})
        entry[key] = entry.get(key, 0) + by


@pytest.fixture(scope="session")
def figures():
    collected = Figures()
    began = time.monotonic()
    yield collected
    if not collected:
        return
    summary = {
        "written_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - began, 1),
        **collected,
    }
    REPORT.write_text(json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
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

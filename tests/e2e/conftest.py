"""A stack shared by the steps of one journey, once per Compose version."""

from __future__ import annotations

import pytest

from support.stack import Stack


@pytest.fixture(scope="module")
def journey(engine, images, compose):
    """One stack for a module's journey: its tests are the steps, in order."""
    stack = Stack.create(compose, images)
    yield stack
    stack.destroy()


@pytest.fixture(autouse=True)
def _diagnostics_on_failure(request):
    """Prints compose ps, health logs and log lines of the journey's stack
    when a step fails."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "journey" in request.fixturenames:
        stack = request.getfixturevalue("journey")
        print(f"\n===== diagnostics for {stack.project} =====\n{stack.diagnostics()}")

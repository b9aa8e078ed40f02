"""A stack shared by the steps of one journey.

The developer's journey (test_journey.py) runs three times: Compose v2 on
the fast path (the engine's start_interval, where it has one), Compose v2
on the portable path (TRANSBOT_FAST_PATH=off, as a user would switch it
off) and Compose v1 (always portable). Other journeys run once per Compose
version, on the path the scripts choose.
"""

from __future__ import annotations

import pytest

from support.stack import Stack

# name -> (Compose version, variables the developer sets)
VARIANTS = {
    "v2-fast": ("v2", {}),
    "v2-portable": ("v2", {"TRANSBOT_FAST_PATH": "off"}),
    "v1": ("v1", {}),
}


def pytest_generate_tests(metafunc):
    if "journey" in metafunc.fixturenames:
        names = list(VARIANTS) if metafunc.module.__name__.endswith("test_journey") else ["v2-fast", "v1"]
        metafunc.parametrize("journey", names, indirect=True, scope="module")


@pytest.fixture(scope="module")
def journey(request, engine, images):
    """One stack for a module's journey: its tests are the steps, in order."""
    compose_name, variables = VARIANTS[request.param]
    stack = Stack.create(request.getfixturevalue(f"compose_{compose_name}"), images)
    stack.extra_env.update(variables)
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

"""Fixtures shared by every layer of the suite.

Layers are folders and markers: lint, unit, harness, integration, e2e,
reliability (harness: the suite's own machinery, not the product).
Run one with ./tests/run.sh -m unit. On CI (CI=true) nothing is skipped for
a missing tool or engine: that is a failure.
"""

from __future__ import annotations

import signal

import pytest

from support import markers
from support.engine import (
    compose_variants,
    engine_problem,
    remove_stale_projects,
    test_images,
    unavailable,
)
from support.stack import Stack


# First: pytest-xdist reads the xdist_group markers in its own hook, which
# would otherwise run before this one and see none.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    markers.mark_items(items)


def pytest_runtest_setup(item):
    markers.require_root_where_marked(item)


def pytest_sessionstart(session):
    # A CI runner or `kill` sends SIGTERM: turn it into KeyboardInterrupt so
    # fixtures still tear their stacks down.
    signal.signal(signal.SIGTERM, signal.default_int_handler)


@pytest.fixture(scope="session")
def engine():
    problem = engine_problem()
    if problem:
        unavailable(problem)
    removed = remove_stale_projects()
    if removed:
        print(f"removed stale test stacks: {', '.join(sorted(removed))}")


@pytest.fixture(scope="session")
def images(engine) -> dict[str, str]:
    return test_images()


def _compose(name: str):
    found = compose_variants()[name]
    if isinstance(found, str):
        unavailable(f"Compose {name}: {found}")
    return found


@pytest.fixture(scope="session")
def compose_v2():
    return _compose("v2")


@pytest.fixture(scope="session")
def compose_v1():
    return _compose("v1")


@pytest.fixture(scope="session", params=["v2", "v1"])
def compose(request):
    """Each Compose version in turn: tests using it run once per version."""
    return _compose(request.param)


@pytest.fixture
def make_stack(request, engine, images, tmp_path_factory):
    """Creates test stacks (repository copies with unique project names) and
    removes them afterwards, printing diagnostics if the test failed."""
    created: list[Stack] = []

    def factory(compose) -> Stack:
        stack = Stack.create(compose, images)
        created.append(stack)
        return stack

    yield factory
    report = getattr(request.node, "rep_call", None)
    for stack in created:
        if report is not None and report.failed:
            print(f"\n===== diagnostics for {stack.project} =====\n{stack.diagnostics()}")
        stack.destroy()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report

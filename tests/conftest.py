"""Fixtures shared by every layer of the suite.

Layers are folders and markers: lint, unit, harness, integration, e2e,
reliability (harness: the suite's own machinery, not the product).
Run one with ./tests/run.sh -m unit. On CI (CI=true) nothing is skipped for
a missing tool or engine: that is a failure.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from support.engine import (
    compose_variants,
    engine_problem,
    remove_stale_projects,
    test_images,
    unavailable,
)
from support.stack import Stack

LAYERS = ("lint", "unit", "harness", "integration", "e2e", "reliability")


# First: pytest-xdist reads the xdist_group markers in its own hook, which
# would otherwise run before this one and see none.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        layer = Path(str(item.fspath)).parent.name
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))
        marker = item.get_closest_marker("needs_root")
        if marker is not None and not (marker.args and isinstance(marker.args[0], str)):
            raise pytest.UsageError(f"{item.nodeid}: needs_root needs a reason, e.g. needs_root(\"mounts a tmpfs\")")
        group = worker_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


# Fixtures of these scopes make a module's tests steps of one story (a
# journey on one stack, in order): they must run on one worker.
_SHARED_SCOPES = ("module", "class", "package")


def worker_group(item) -> str | None:
    """The pytest-xdist group (--dist loadgroup) of a test that shares a
    module- or class-scoped fixture with others: its module, plus the values
    of the parameters of such fixtures, so the Compose v2 and v1 journeys of
    one module run side by side. None for a test that stands alone (its
    stacks are its own): any worker may take it."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    scopes = {name: definitions[-1].scope for name, definitions in info.name2fixturedefs.items() if definitions}
    if not any(scopes.get(name) in _SHARED_SCOPES for name in info.names_closure):
        return None
    params = getattr(getattr(item, "callspec", None), "params", {})
    shared = sorted(f"{name}={value}" for name, value in params.items() if scopes.get(name) != "function")
    group = "/".join([item.module.__name__, *shared])
    # xdist appends "@group" to the test id and ignores it when a "]" follows
    # the "@": no brackets (or @) in a group's name.
    return re.sub(r"[\[\]@]", "_", group)


def pytest_runtest_setup(item):
    # needs_root("why"): the test does something only root may (mount, signal
    # the daemon). Another user skips it on a developer's machine; on CI it
    # fails, so a CI that runs as a normal user must run these tests as root
    # (./tests/run.sh does with TRANSBOT_TEST_USER) or deselect them openly.
    marker = item.get_closest_marker("needs_root")
    if marker is not None and os.geteuid() != 0:
        unavailable(f"needs root: {marker.args[0]}")


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

"""How the suite marks and groups its tests: layers by folder, needs_root,
and the pytest-xdist worker groups of the parallel phase. tests/conftest.py
hands pytest's hooks to these functions."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from .engine import unavailable

LAYERS = ("lint", "unit", "harness", "integration", "e2e", "reliability", "swarm")


def mark_items(items) -> None:
    for item in items:
        folder = Path(str(item.fspath)).parent
        # The benchmark's own unit tests test the suite's tools too.
        layer = "harness" if folder.parent.name == "bench" else folder.name
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


def require_root_where_marked(item) -> None:
    # needs_root("why"): the test does something only root may (mount, signal
    # the daemon). Another user skips it on a developer's machine; on CI it
    # fails, so a CI that runs as a normal user must run these tests as root
    # (./tests/run.sh does with TRANSBOT_TEST_USER) or deselect them openly.
    marker = item.get_closest_marker("needs_root")
    if marker is not None and os.geteuid() != 0:
        unavailable(f"needs root: {marker.args[0]}")

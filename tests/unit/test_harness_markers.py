"""The suite's own markers: needs_root, and the worker groups of the
parallel phase (tests/conftest.py).

needs_root skips a test for a user who is not root on a developer's machine
and fails it on CI, so a CI never goes green by skipping what it cannot do.
The worker groups keep the steps of one story (tests sharing a module-scoped
stack) on one worker, in order, and let every other test go anywhere.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import conftest

NOT_ROOT = 1000


class Item:
    """What the hooks read from a collected test."""

    def __init__(self, marker=None, scopes=None, params=None, module="e2e.test_journey"):
        self.marker = marker
        self.nodeid = f"tests/{module.replace('.', '/')}.py::test_x"
        scopes = scopes or {}
        self._fixtureinfo = SimpleNamespace(
            names_closure=list(scopes),
            name2fixturedefs={name: (SimpleNamespace(scope=scope),) for name, scope in scopes.items()},
        )
        if params is not None:
            self.callspec = SimpleNamespace(params=params)
        self.module = SimpleNamespace(__name__=module)
        self.fspath = self.nodeid.split("::")[0]
        self.added = []

    def get_closest_marker(self, name):
        return self.marker if name == "needs_root" else None

    def add_marker(self, marker):
        self.added.append(marker)


def test_needs_root_skips_for_another_user_on_a_developer_machine(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(conftest.os, "geteuid", lambda: NOT_ROOT)
    with pytest.raises(pytest.skip.Exception, match="needs root: mounts a tmpfs"):
        conftest.pytest_runtest_setup(Item(pytest.mark.needs_root("mounts a tmpfs").mark))


def test_needs_root_fails_for_another_user_on_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(conftest.os, "geteuid", lambda: NOT_ROOT)
    with pytest.raises(pytest.fail.Exception, match="required on CI: needs root: mounts a tmpfs"):
        conftest.pytest_runtest_setup(Item(pytest.mark.needs_root("mounts a tmpfs").mark))


@pytest.mark.parametrize("ci", ["true", ""])
def test_needs_root_runs_as_root(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(conftest.os, "geteuid", lambda: 0)
    assert conftest.pytest_runtest_setup(Item(pytest.mark.needs_root("mounts a tmpfs").mark)) is None


def test_a_test_without_the_marker_runs_for_anyone(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(conftest.os, "geteuid", lambda: NOT_ROOT)
    assert conftest.pytest_runtest_setup(Item()) is None


def test_needs_root_without_a_reason_is_a_usage_error():
    with pytest.raises(pytest.UsageError, match="needs_root needs a reason"):
        conftest.pytest_collection_modifyitems([Item(pytest.mark.needs_root.mark)])


def test_tests_sharing_a_module_stack_share_a_group_per_compose_version():
    v2 = Item(scopes={"journey": "module", "compose": "session", "tmp_path": "function"}, params={"compose": "v2"})
    v1 = Item(scopes={"journey": "module", "compose": "session"}, params={"compose": "v1"})
    assert conftest.worker_group(v2) == "e2e.test_journey[compose=v2]"
    assert conftest.worker_group(v1) == "e2e.test_journey[compose=v1]"


def test_a_test_parameter_does_not_split_the_group():
    case = Item(scopes={"stack": "module", "name": "function"}, params={"name": "backup-unknown-service"},
                module="reliability.test_hostile_input")
    assert conftest.worker_group(case) == "reliability.test_hostile_input"


@pytest.mark.parametrize("scope", ["class", "package"])
def test_class_and_package_fixtures_group_too(scope):
    assert conftest.worker_group(Item(scopes={"shared": scope})) == "e2e.test_journey"


def test_a_test_with_only_its_own_or_session_fixtures_goes_anywhere():
    alone = Item(scopes={"make_stack": "function", "images": "session", "compose_v1": "session"},
                 module="reliability.test_restart_cycles")
    assert conftest.worker_group(alone) is None


def test_collection_marks_the_group_for_xdist():
    item = Item(scopes={"journey": "module"})
    conftest.pytest_collection_modifyitems([item])
    groups = [marker.mark.args for marker in item.added if marker.mark.name == "xdist_group"]
    assert groups == [("e2e.test_journey",)]

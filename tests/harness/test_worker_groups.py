"""The suite's own markers: needs_root, and the worker groups of the
parallel phase (tests/support/markers.py, through tests/conftest.py's hooks).

needs_root skips a test for a user who is not root on a developer's machine
and fails it on CI, so a CI never goes green by skipping what it cannot do.
The worker groups keep the steps of one story (tests sharing a module-scoped
stack) on one worker, in order, and let every other test go anywhere.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from support import markers
from support.engine import REPO_ROOT

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
    monkeypatch.setattr(markers.os, "geteuid", lambda: NOT_ROOT)
    with pytest.raises(pytest.skip.Exception, match="needs root: mounts a tmpfs"):
        markers.require_root_where_marked(Item(pytest.mark.needs_root("mounts a tmpfs").mark))


def test_needs_root_fails_for_another_user_on_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(markers.os, "geteuid", lambda: NOT_ROOT)
    with pytest.raises(pytest.fail.Exception, match="required on CI: needs root: mounts a tmpfs"):
        markers.require_root_where_marked(Item(pytest.mark.needs_root("mounts a tmpfs").mark))


@pytest.mark.parametrize("ci", ["true", ""])
def test_needs_root_runs_as_root(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(markers.os, "geteuid", lambda: 0)
    assert markers.require_root_where_marked(Item(pytest.mark.needs_root("mounts a tmpfs").mark)) is None


def test_a_test_without_the_marker_runs_for_anyone(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(markers.os, "geteuid", lambda: NOT_ROOT)
    assert markers.require_root_where_marked(Item()) is None


def test_needs_root_without_a_reason_is_a_usage_error():
    with pytest.raises(pytest.UsageError, match="needs_root needs a reason"):
        markers.mark_items([Item(pytest.mark.needs_root.mark)])


def test_tests_sharing_a_module_stack_share_a_group_per_compose_version():
    v2 = Item(scopes={"journey": "module", "compose": "session", "tmp_path": "function"}, params={"compose": "v2"})
    v1 = Item(scopes={"journey": "module", "compose": "session"}, params={"compose": "v1"})
    assert markers.worker_group(v2) == "e2e.test_journey/compose=v2"
    assert markers.worker_group(v1) == "e2e.test_journey/compose=v1"


def test_group_names_hold_nothing_that_makes_xdist_ignore_them():
    # pytest-xdist groups "<test id>@<group>" only when no "]" follows the "@".
    odd = Item(scopes={"stack": "module", "variant": "module"}, params={"variant": "a[1]@b"})
    group = markers.worker_group(odd)
    assert group == "e2e.test_journey/variant=a_1__b"
    nodeid = f"tests/e2e/test_journey.py::test_x[a[1]@b]@{group}"
    assert nodeid.rfind("@") > nodeid.rfind("]"), "xdist would schedule this test on its own"


def test_a_test_parameter_does_not_split_the_group():
    case = Item(scopes={"stack": "module", "name": "function"}, params={"name": "backup-unknown-service"},
                module="reliability.test_hostile_input")
    assert markers.worker_group(case) == "reliability.test_hostile_input"


@pytest.mark.parametrize("scope", ["class", "package"])
def test_class_and_package_fixtures_group_too(scope):
    assert markers.worker_group(Item(scopes={"shared": scope})) == "e2e.test_journey"


def test_a_test_with_only_its_own_or_session_fixtures_goes_anywhere():
    alone = Item(scopes={"make_stack": "function", "images": "session", "compose_v1": "session"},
                 module="reliability.test_restart_cycles")
    assert markers.worker_group(alone) is None


def test_collection_marks_the_group_for_xdist():
    item = Item(scopes={"journey": "module"})
    markers.mark_items([item])
    groups = [marker.mark.args for marker in item.added if marker.mark.name == "xdist_group"]
    assert groups == [("e2e.test_journey",)]


STORY_CONFTEST = '''
import importlib.util, sys
sys.path.insert(0, {tests!r})
_spec = importlib.util.spec_from_file_location("suite_conftest", {tests!r} + "/conftest.py")
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)
pytest_collection_modifyitems = _suite.pytest_collection_modifyitems  # the suite's own hook, as is

import os, pytest

@pytest.fixture(scope="session", params=["v2", "v1"])
def variant(request):
    return request.param

@pytest.fixture(scope="module")
def story(variant):
    return []
'''

STORY_MODULE = '''
import os

def _step(story, variant, name):
    story.append(name)
    with open({log!r}, "a") as log:
        log.write(f"{{__name__}} {{variant}} {{os.environ['PYTEST_XDIST_WORKER']}} {{len(story)}} {{name}}\\n")

''' + "\n".join(f'''
def test_{n}(story, variant):
    _step(story, variant, "{n}")
''' for n in ("a_first", "b_second", "c_third", "d_fourth"))


def test_pytest_xdist_keeps_each_story_on_one_worker_in_order(tmp_path):
    """The real scheduler, on three modules of four ordered steps in two
    variants: every (module, variant) runs on one worker, in its order."""
    import os
    import subprocess
    import sys

    log = tmp_path / "steps.log"
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text(STORY_CONFTEST.format(tests=str(REPO_ROOT / "tests")))
    for name in ("test_one", "test_two", "test_three"):
        (project / f"{name}.py").write_text(STORY_MODULE.format(log=str(log)))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "3",
                           "--dist", "loadgroup", str(project)], capture_output=True, text=True, timeout=120,
                          cwd=project, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    stories: dict[tuple[str, str], list[tuple[str, int, str]]] = {}
    for line in log.read_text().splitlines():
        module, variant, worker, position, name = line.split()
        stories.setdefault((module, variant), []).append((worker, int(position), name))
    assert len(stories) == 6
    for key, steps in stories.items():
        assert len({worker for worker, _, _ in steps}) == 1, f"{key} ran on several workers: {steps}"
        assert [(position, name) for _, position, name in steps] == [
            (1, "a_first"), (2, "b_second"), (3, "c_third"), (4, "d_fourth")], f"{key} out of order: {steps}"

"""The harness tells Compose v1 from the Go Compose by its version number.

Compose's version went from 2.40 to 5.0 in December 2025, and Docker
Desktop adds suffixes: a check for "starts with 2." would skip every v2
test on a machine with Compose 5.x. These tests pin the parsing and the
choice of family, and drive the detection itself against fake `docker`
and `docker-compose` programs that print a given version.
"""

from __future__ import annotations

import stat
import subprocess

import pytest

from support import engine

PARSED = {
    "2.40.3": (2, 40, 3),
    "v2.40.3": (2, 40, 3),
    "5.0.1": (5, 0, 1),
    "v5.0.0": (5, 0, 0),
    "2.29.7-desktop.1": (2, 29, 7),
    "2.24.0+ds1": (2, 24, 0),
    "1.29.2": (1, 29, 2),
    "1.29.2, build 5becea4c": (1, 29, 2),
    "2.26": (2, 26, 0),
    "12.3.4\n": (12, 3, 4),
}


@pytest.mark.parametrize("text", sorted(PARSED))
def test_version_strings_are_parsed(text):
    assert engine.parse_compose_version(text) == PARSED[text]


@pytest.mark.parametrize("text", ["", "dev", "version 2.40.3", "2", "2.x.1", "2.40.3beta", "Docker Compose v2.40.3"])
def test_non_versions_are_not_parsed(text):
    assert engine.parse_compose_version(text) is None


@pytest.mark.parametrize(("version", "family"), [
    ((1, 29, 2), "v1"), ((1, 0, 0), "v1"),
    ((2, 0, 0), "v2"), ((2, 40, 3), "v2"), ((3, 0, 0), "v2"), ((5, 0, 1), "v2"), ((10, 1, 0), "v2"),
    ((0, 9, 0), None),
])
def test_family_is_v1_for_1x_and_v2_from_2_on(version, family):
    assert engine.compose_family(version) == family


def _answer(stdout: str, returncode: int = 0, stderr: str = "") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(["x"], returncode, stdout, stderr)


@pytest.mark.parametrize("printed", ["5.0.1\n", "v2.40.3\n", "2.29.7-desktop.1\n", "2.20.2\n"])
def test_a_v2_family_version_is_accepted_as_v2(printed):
    found = engine._compose_or_reason("v2", ("docker", "compose"), _answer(printed))
    assert found == engine.Compose("v2", ("docker", "compose"), printed.strip().lstrip("v"))


def test_compose_5_as_docker_compose_is_not_v1():
    reason = engine._compose_or_reason("v1", ("docker-compose",), _answer("5.0.1\n"))
    assert reason == "docker-compose is version 5.0.1, not v1 (1.x)"


def test_compose_v1_as_the_plugin_is_not_v2():
    reason = engine._compose_or_reason("v2", ("docker", "compose"), _answer("1.29.2\n"))
    assert reason == "docker compose is version 1.29.2, not v2 (2.x or later)"


def test_garbage_and_failures_give_a_reason():
    assert "not a Compose version" in engine._compose_or_reason("v2", ("docker", "compose"), _answer("dev\n"))
    failed = engine._compose_or_reason("v1", ("docker-compose",), _answer("", 1, "boom"))
    assert failed == "docker-compose does not run: boom"


def test_the_numbers_of_a_detected_compose():
    assert engine.Compose("v2", ("docker", "compose"), "2.29.7-desktop.1").numbers == (2, 29, 7)
    assert engine.Compose("v2", ("docker", "compose"), "5.0.1").numbers >= (2, 24)


def _fake(directory, name: str, version: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n[ \"$*\" = \"{'compose ' if name == 'docker' else ''}version --short\" ] "
                    f"&& echo '{version}' && exit 0\nexit 64\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize(("plugin", "standalone", "v2", "v1"), [
    ("5.0.1", "1.29.2", "5.0.1", "1.29.2"),
    ("v2.40.3", "1.29.2", "2.40.3", "1.29.2"),
    ("2.29.7-desktop.1", "2.29.7-desktop.1", "2.29.7-desktop.1", None),  # Desktop's docker-compose is v2
])
def test_detection_runs_each_compose_and_sorts_them_by_version(tmp_path, monkeypatch, plugin, standalone, v2, v1):
    _fake(tmp_path, "docker", plugin)
    _fake(tmp_path, "docker-compose", standalone)
    monkeypatch.setenv("PATH", str(tmp_path))
    found = engine.compose_variants.__wrapped__()
    assert found["v2"] == engine.Compose("v2", ("docker", "compose"), v2)
    if v1 is None:
        assert found["v1"] == f"docker-compose is version {standalone}, not v1 (1.x)"
    else:
        assert found["v1"] == engine.Compose("v1", ("docker-compose",), v1)

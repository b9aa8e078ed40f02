"""Which path the benchmark measures, and the files both sides pass."""

from __future__ import annotations

import itertools

import pytest

from support.engine import Compose
from transbench import compose_path
from transbench.common import BenchError
from transbench.compose_path import FAST, FAST_OVERLAY, PORTABLE, choose, version_tuple

APIS = ("1.41", "1.43", "1.44", "1.52")
COMPOSES = ("1.29.2", "2.20.3", "2.24.0", "v2.40.3", "5.0.1", "2.29.7-desktop.1")
# Written out, not computed: the Compose versions that pass start_interval.
FAST_COMPOSES = {"2.24.0", "v2.40.3", "5.0.1", "2.29.7-desktop.1"}
FAST_APIS = {"1.44", "1.52"}


def compose(version: str) -> Compose:
    return Compose("v2", ("docker", "compose"), version.lstrip("v"))


@pytest.fixture
def api(monkeypatch):
    def set_api(value: str) -> None:
        monkeypatch.setattr(compose_path, "engine_api", lambda: value)
    return set_api


@pytest.mark.parametrize("text, expected", [
    ("1.45", (1, 45)), ("v2.40.3", (2, 40)), ("5.0.1", (5, 0)), ("2.29.7-desktop.1", (2, 29)),
    ("1.29.2", (1, 29)), ("not a version", None),
])
def test_version_tuple_reads_every_spelling(text, expected):
    assert version_tuple(text) == expected


@pytest.mark.parametrize("api_version, compose_version", list(itertools.product(APIS, COMPOSES)))
def test_default_path_is_the_scripts_choice(api, api_version, compose_version):
    api(api_version)
    fast = api_version in FAST_APIS and compose_version in FAST_COMPOSES
    assert choose(None, compose(compose_version), {}).name == (FAST if fast else PORTABLE)


def test_switch_off_in_the_environment_means_portable(api):
    api("1.45")
    path = choose(None, compose("2.40.3"), {"TRANSBOT_FAST_PATH": "off"})
    assert path.name == PORTABLE and "TRANSBOT_FAST_PATH=off" in path.reason


def test_forced_portable_on_a_fast_engine_switches_the_scripts_off(api):
    api("1.45")
    path = choose(PORTABLE, compose("2.40.3"), {})
    assert path.name == PORTABLE
    assert dict(path.script_env) == {"TRANSBOT_FAST_PATH": "off"}


def test_forced_portable_on_an_old_engine_needs_no_switch(api):
    api("1.41")
    assert choose(PORTABLE, compose("2.40.3"), {}).script_env == ()


@pytest.mark.parametrize("api_version, compose_version, message", [
    ("1.41", "2.40.3", "Engine API 1.41 < 1.44"),
    ("1.45", "2.20.3", "Compose 2.20.3 < 2.24"),
    ("1.45", "1.29.2", "Compose 1.29.2 < 2.24"),
])
def test_forced_fast_where_it_cannot_run_says_why(api, api_version, compose_version, message):
    api(api_version)
    with pytest.raises(BenchError, match=message):
        choose(FAST, compose(compose_version), {})


def test_forced_fast_with_the_switch_off_says_to_unset_it(api):
    api("1.45")
    with pytest.raises(BenchError, match="unset it"):
        choose(FAST, compose("2.40.3"), {"TRANSBOT_FAST_PATH": "off"})


def test_fast_files_put_the_overlay_between_the_file_and_the_override(api, tmp_path):
    api("1.45")
    path = choose(FAST, compose("2.40.3"), {})
    (tmp_path / "docker-compose.override.yml").write_text("services: {}\n")
    assert path.files(tmp_path) == ["docker-compose.yml", FAST_OVERLAY, "docker-compose.override.yml"]
    (tmp_path / "docker-compose.override.yml").unlink()
    assert path.files(tmp_path) == ["docker-compose.yml", FAST_OVERLAY]


def test_fast_path_passes_every_file_the_portable_path_none(api, tmp_path):
    (tmp_path / "docker-compose.override.yaml").write_text("services: {}\n")
    api("1.45")
    fast = choose(None, compose("2.40.3"), {})
    assert fast.cli_files(tmp_path) == ["docker-compose.yml", FAST_OVERLAY, "docker-compose.override.yaml"]
    api("1.41")
    portable = choose(None, compose("2.40.3"), {})
    # As the scripts do: Compose finds the override by itself.
    assert portable.cli_files(tmp_path) == []
    assert portable.files(tmp_path) == ["docker-compose.yml", "docker-compose.override.yaml"]


@pytest.mark.parametrize("setting", ["on", "OFF", "yes"])
def test_a_switch_value_the_scripts_refuse_is_refused(api, setting):
    api("1.45")
    with pytest.raises(BenchError, match="must be auto or off"):
        choose(None, compose("2.40.3"), {"TRANSBOT_FAST_PATH": setting})


def test_auto_is_the_default(api):
    api("1.45")
    assert choose(None, compose("2.40.3"), {"TRANSBOT_FAST_PATH": "auto"}).name == FAST

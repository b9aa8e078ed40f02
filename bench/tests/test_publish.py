"""--publish NAME: the figures a run publishes for docs/performance.md are
computed from its samples, and the documents' generator renders them."""

from __future__ import annotations

import importlib.util

import pytest

from transbench.common import REPO_ROOT
from transbench.publish import command_of, figures, name_problem, published
from transbench.settings import parse_args

from test_figures import results, settings

INFO = {"cpu": "Test CPU, 2 cores", "memory": "4.0 GiB", "os": "Debian 12, kernel 6.1", "python": "Python 3.11",
        "docker": "Docker Engine 26.1.5 (API 1.45, cgroup v1)", "compose": "Compose v2 2.40.3"}
META = {"date": "2026-12-03 10:00 UTC", "images": "stand-ins", "load": "0 other container(s)", "path": "fast"}


def test_published_figures_are_the_medians_and_ratios_of_the_samples():
    found = figures(results(cpu_on=0.021, slices_on=0.002))
    assert found["cold"] == {"scripts_s": 2.2, "baseline_s": 2.1, "ratio": pytest.approx(2.2 / 2.1)}
    assert found["tail_s"] == {"cold": 0.4, "warm": 0.4}
    assert found["health"] == {"scripts_s": 0.25, "baseline_s": 0.06}
    # Judged over the whole window, as the run's own table: 2 %, not the slices' 0.1 %.
    assert found["idle"]["healthchecks_cpu"] == pytest.approx(0.02)
    assert found["idle"]["per_probe_cpu_s"] == pytest.approx(0.2)
    assert found["overhead"] == {"scripts_s": [0.01, 0.01], "baseline_s": [0.05, 0.05]}


def test_a_published_file_says_when_how_and_on_what_it_was_measured():
    data = published(results(cpu_on=0.005, slices_on=0.005), settings(), INFO, META)
    assert data["date"] == META["date"]
    assert data["machine"].startswith("Test CPU, 2 cores, 4.0 GiB RAM")
    assert data["command"] == "./bench/run.sh --quick --repeat 1 --idle-window 60 --rows 0"


def test_the_generator_renders_a_published_file_and_bolds_a_missed_target():
    spec = importlib.util.spec_from_file_location("docs_generate", REPO_ROOT / "docs" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    data = published(results(cpu_on=0.021, slices_on=0.002), settings(), INFO, META)
    table = "\n".join(generate.render_summary([data], ["bench/results/x.json"]))
    assert "2026-12-03 10:00 UTC on Test CPU, 2 cores, 4.0 GiB RAM" in table
    assert "| 250 ms (60 ms) |" in table
    assert "**2.0 %**" in table  # 2 % of a core against a 1 % target


def test_publish_refuses_a_name_that_is_no_plain_file_name():
    assert name_problem("fast-engine26") is None
    for bad in ("latest", "../docs/x", "Fast", ""):
        assert name_problem(bad)
    with pytest.raises(SystemExit) as exited:
        parse_args(["--publish", "../x"])
    assert exited.value.code == 2


def test_the_published_command_repeats_the_run():
    assert command_of(parse_args(["--repeat", "3", "--rows", "0", "--path", "portable"])) == \
        "./bench/run.sh --repeat 3 --idle-window 60 --rows 0 --path portable"

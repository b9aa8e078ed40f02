"""The upgrade benchmark's figures: downtime from a probe timeline, the
medians and ratios it publishes, and the block the documents show."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from transbench import downtime
from transbench.common import REPO_ROOT, BenchError
from transbench.downtime import Probe, measure, outage, trimmed
from transbench.upgrade import BY_HAND, OURS, UpgradeResults, UpgradeSettings, figures, parse_args, published, render

from test_publish import INFO, META


def timeline(*spans: tuple[float, float, bool], step: float = 0.1) -> list[Probe]:
    """Probes every STEP seconds from each (from, to, ok) span, each answered
    10 ms after it was asked."""
    probes = []
    for start, end, ok in spans:
        count = round((end - start) / step)
        probes += [Probe(start + i * step, start + i * step + 0.01, ok) for i in range(count)]
    return probes


def test_downtime_is_the_longest_time_between_two_right_answers():
    # Up until 2 s, down from 2 s to 5 s, up again: the last success before
    # the hole answered at 1.91 s, the first after it at 5.01 s.
    found = outage(timeline((0, 2, True), (2, 5, False), (5, 6, True)))
    assert found["downtime_s"] == pytest.approx(3.1)
    assert found["unavailable_s"] == pytest.approx(3.1)
    assert found["failed"] == 30 and found["probes"] == 60
    assert found["spacing_s"] == pytest.approx(0.1)


def test_two_outages_add_up_in_unavailable_and_the_longer_is_the_downtime():
    found = outage(timeline((0, 1, True), (1, 2, False), (2, 3, True), (3, 6, False), (6, 7, True)))
    assert found["downtime_s"] == pytest.approx(3.1)
    assert found["unavailable_s"] == pytest.approx(1.1 + 3.1)
    assert found["failed"] == 40


def test_a_slow_answer_is_downtime_without_a_failed_probe():
    # A server that hangs for 4 s answers right in the end: no probe
    # failed, yet clients waited.
    probes = [*timeline((0, 1, True)), Probe(1.0, 5.0, True), *timeline((5.1, 6, True))]
    found = outage(probes)
    assert found["downtime_s"] == pytest.approx(5.0 - 0.91)
    assert found["unavailable_s"] == 0 and found["failed"] == 0


def test_no_outage_leaves_the_probe_spacing_as_the_downtime():
    found = outage(timeline((0, 3, True)))
    assert found["downtime_s"] == pytest.approx(0.1)
    assert found["unavailable_s"] == 0 and found["failed"] == 0


def test_a_service_that_never_answers_again_has_no_figure():
    found = outage(timeline((0, 1, True), (1, 3, False)))
    assert found["downtime_s"] is None and found["unavailable_s"] is None and found["failed"] == 20


def test_the_timeline_runs_from_the_first_answer_to_the_one_awaited():
    probes = timeline((0, 0.3, False), (0.3, 1, True), (1, 2, False), (2, 2.5, True), (2.5, 3, False))
    # The probes asked before the service first answered (0-2), and those
    # after the first success at or after the command's end, are left out.
    kept = trimmed(probes, 15)  # the command ended during the outage (10-19)
    assert kept[0] is probes[3] and kept[-1] is probes[20]
    assert trimmed(probes, 22)[-1] is probes[22]
    # Not awaited: everything from the first answer on.
    assert trimmed(probes, len(probes)) == probes[3:]


def test_measure_fails_when_the_service_does_not_come_back(monkeypatch):
    monkeypatch.setattr(downtime, "AFTER_TIMEOUT_S", 0.5)
    state = {"up": True}

    def action() -> None:
        state["up"] = False

    with pytest.raises(BenchError, match="did not answer again"):
        measure(lambda: state["up"], action)


def test_measure_counts_an_outage_that_outlasts_the_command():
    state = {"up": True, "asked_after": 0}

    def check() -> bool:
        # Down for the command and the next five probes after it.
        if not state["up"]:
            state["asked_after"] += 1
            return state["asked_after"] > 5
        return True

    def action() -> None:
        state["up"] = False

    _, found = measure(check, action)
    assert found["failed"] >= 5 and found["downtime_s"] is not None
    assert found["unavailable_s"] == found["downtime_s"]


def rounds(kind: str, values: list[tuple[float, float]]) -> list[dict]:
    return [{"seconds": s, "downtime_s": d, "unavailable_s": d, "spacing_s": 0.1, "failed": 10, "probes": 100}
            for s, d in values]


def results() -> UpgradeResults:
    return UpgradeResults(rounds={OURS: rounds(OURS, [(60, 40), (80, 50), (70, 45)]),
                                  BY_HAND: rounds(BY_HAND, [(120, 10), (100, 10), (110, 9)])},
                          database_bytes=534 * 2**20)


def upgrade_settings() -> UpgradeSettings:
    return UpgradeSettings(repeat=3, rows=1_000_000, quick=False, output=Path("/dev/null"))


def test_figures_are_medians_and_the_ratio_the_median_of_each_round_s():
    found = figures(results())
    assert found[OURS]["seconds"] == 70 and found[BY_HAND]["seconds"] == 110
    assert found[OURS]["downtime_s"] == 45 and found[BY_HAND]["downtime_s"] == 10
    # Per round: 60/120, 80/100, 70/110 -> median 70/110; 40/10, 50/10, 45/9 -> median 5.0
    # (not 45/10, the ratio of the medians).
    assert found["ratio"]["seconds"] == pytest.approx(70 / 110)
    assert found["ratio"]["downtime_s"] == pytest.approx(5.0)


def test_the_published_file_says_what_was_run_and_the_generator_renders_it():
    data = published(results(), upgrade_settings(), INFO, {**META, "mode": "3 rounds"})
    assert data["command"] == "./bench/upgrade.sh --repeat 3 --rows 1000000"
    assert data["rows"] == 1_000_000 and data["database_mib"] == 534
    spec = importlib.util.spec_from_file_location("docs_generate", REPO_ROOT / "docs" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    table = "\n".join(generate.render_upgrade([data], ["bench/results/x.json"]))
    assert "1M translation rows" in table and "2026-12-03 10:00 UTC on Test CPU, 2 cores" in table
    assert "| total time | 70.00 s | 110.00 s | 0.64× |" in table
    assert "| downtime: longest time without a right answer | 45.00 s | 10.00 s | 5.00× |" in table


def test_the_run_s_table_escapes_the_pipe_of_its_baseline():
    meta = {**META, "mode": "3 rounds", "duration": "9 min"}
    header = next(line for line in render(results(), upgrade_settings(), INFO, meta).splitlines()
                  if line.startswith("| measurement"))
    assert header.count(" | ") == 3, header


def test_quick_is_one_round_on_ten_thousand_rows_and_rows_must_be_a_number():
    quick = parse_args(["--quick"])
    assert (quick.repeat, quick.rows) == (1, 10_000)
    assert (parse_args([]).repeat, parse_args([]).rows) == (3, 1_000_000)
    for bad in (["--rows", "many"], ["--rows", "0"], ["--repeat", "0"], ["--publish", "latest"],
                ["--publish", "upgrade-latest"]):
        with pytest.raises(SystemExit) as exited:
            parse_args(bad)
        assert exited.value.code == 2


def update_round(seconds: float, downtimes: dict[str, float]) -> dict:
    return {"seconds": seconds, **{service: {"downtime_s": d, "unavailable_s": d / 2, "spacing_s": 0.1,
                                             "failed": 5, "probes": 50} for service, d in downtimes.items()}}


def test_the_update_s_figures_are_per_service_medians_and_the_documents_show_them():
    measured = results()
    measured.update = [update_round(30, {"postgres": 4, "langfuse": 2, "redis": 1}),
                       update_round(20, {"postgres": 6, "langfuse": 3, "redis": 1.5}),
                       update_round(25, {"postgres": 5, "langfuse": 9, "redis": 2})]
    found = figures(measured)
    assert found["update_s"] == 25
    assert found["update"] == {"postgres": {"downtime_s": 5, "unavailable_s": 2.5},
                               "langfuse": {"downtime_s": 3, "unavailable_s": 1.5},
                               "redis": {"downtime_s": 1.5, "unavailable_s": 0.75}}
    spec = importlib.util.spec_from_file_location("docs_generate", REPO_ROOT / "docs" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    data = published(measured, upgrade_settings(), INFO, {**META, "mode": "3 rounds"})
    table = "\n".join(generate.render_upgrade([data], ["bench/results/x.json"]))
    assert "25.00 s in all" in table
    assert "| langfuse | 3.00 s | 1.50 s |" in table


def test_a_run_without_the_update_says_why():
    measured = results()
    measured.update_skipped = "needs the stand-ins' second builds"
    meta = {**META, "mode": "3 rounds", "duration": "9 min"}
    assert "update" not in figures(measured)
    assert "not measured (needs the stand-ins' second builds)" in render(measured, upgrade_settings(), INFO, meta)

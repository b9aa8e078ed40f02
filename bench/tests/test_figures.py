"""The figures the report derives: timelines, probe counts, the idle rows."""

from __future__ import annotations

from pathlib import Path

from transbench.common import BASELINE, SCRIPTS
from transbench.idle import probes_between
from transbench.phases import Results
from transbench.report import build_rows
from transbench.settings import Settings
from transbench.timeline import StartRun, derive

SERVICES = ("postgres", "langfuse", "redis")


def test_tail_after_ready_counts_from_the_last_service_ready():
    timeline = derive({
        "postgres_started": 0.5, "postgres_ready": 0.6, "postgres_healthy": 1.0,
        "langfuse_started": 1.4, "langfuse_ready": 1.7, "langfuse_healthy": 2.0,
        "redis_started": 0.5, "redis_ready": 0.55, "redis_healthy": 1.0,
        "returned": 2.4,
    })
    assert timeline["last_ready"] == 1.7
    assert abs(timeline["tail_after_ready"] - 0.7) < 1e-9
    assert abs(timeline["gap_ready_to_langfuse_started"] - 0.8) < 1e-9
    assert abs(timeline["tail_after_healthy"] - 0.4) < 1e-9


def test_tail_is_unknown_when_a_service_never_logged_ready():
    timeline = derive({f"{s}_{p}": 1.0 for s in SERVICES for p in ("started", "ready", "healthy")}
                      | {"redis_ready": None, "returned": 3.0})
    assert timeline["last_ready"] is None and timeline["tail_after_ready"] is None


def health_log(*starts: str) -> dict:
    return {"State": {"Health": {"Log": [{"Start": f"2026-12-01T10:00:{s}Z", "ExitCode": 0} for s in starts]}}}


def test_probes_between_counts_those_inside_the_window():
    began = 1796119210.0  # 2026-12-01T10:00:10Z
    assert probes_between(health_log("05.0", "15.0", "45.0"), began, began + 40) == 2


def test_probes_between_refuses_a_full_log_inside_the_window():
    began = 1796119200.0
    assert probes_between(health_log("01", "03", "05", "07", "09"), began, began + 60) is None


def window(cpu: float, slices: float, probes: int | None = 2) -> dict:
    rates = {s: 0.0 for s in SERVICES} | {"dockerd": 0.0, "containerd": 0.0, "shims": 0.0}
    return {
        "window_averages": rates | {"postgres": cpu},
        "rates": rates | {"postgres": slices},
        "probe_intervals": {s: 30.0 for s in SERVICES},
        "start_intervals": {s: 0.5 for s in SERVICES},
        "probes": {s: probes for s in SERVICES},
        "other_work_cores": 0.2,
        "seconds": 60.0,
        "memory": {s: 2.0**20 for s in SERVICES},
    }


def results(cpu_on: float, slices_on: float) -> Results:
    runs = [StartRun(kind, 0, seconds, {"tail_after_ready": tail, "gap_ready_to_langfuse_started": 0.5})
            for kind, seconds, tail in ((SCRIPTS, 2.2, 0.4), (BASELINE, 2.1, 0.45))]
    return Results(
        overhead={"start.sh": {"help": {"scripts": [0.01], "baseline": [0.05]},
                               "usage": {"scripts": [0.01], "baseline": [0.05]}}},
        starts={"cold": list(runs), "warm": list(runs)},
        health={0: {SCRIPTS: [0.25], BASELINE: [0.06]}},
        idle=[{"healthchecks": window(cpu_on, slices_on), "no_healthchecks": window(0.001, 0.001, 0)}],
    )


def settings() -> Settings:
    return Settings(repeat=1, quick=True, idle_window=60, idle_rounds=1, idle_settle=5, idle_step=5,
                    fast_runs=3, overhead_runs=1, row_counts=[0], output=Path("/dev/null"))


def row(rows: list[list[str]], label: str) -> list[str]:
    return next(r for r in rows if r[0].startswith(label))


def test_the_healthcheck_target_is_judged_over_the_whole_window():
    # The slices' median says 0.1 %, the whole window 2 %: a burst-free
    # median must not turn a miss into a pass.
    rows = build_rows(results(cpu_on=0.021, slices_on=0.002), settings(), "stand-ins", standins=True)
    together = row(rows, "CPU, healthchecks together")
    assert together[1] == "2.00 %" and together[5] == "**no** (stand-ins)"
    assert row(rows, "… the same as the median")[1] == "0.10 %"


def test_per_probe_cost_uses_the_counted_probes():
    rows = build_rows(results(cpu_on=0.021, slices_on=0.0), settings(), "stand-ins", standins=True)
    # 2 % of a core over 60 s is 1.2 s of CPU, over 6 counted probes.
    per_probe = row(rows, "… per probe")
    assert "6 probes in 60 s" in per_probe[0] and per_probe[1] == "200 ms of CPU"


def test_verdicts_say_which_images_and_the_first_row_what_was_measured():
    rows = build_rows(results(cpu_on=0.005, slices_on=0.005), settings(), "offline stand-ins; fast path",
                      standins=True)
    assert rows[0][0] == "**Measured on: offline stand-ins; fast path**"
    assert row(rows, "`start.sh` vs")[5] == "yes (stand-ins)"
    assert row(rows, "last service ready")[5] == "yes (stand-ins)"
    assert row(rows, "`health-check.sh` vs")[5] == "yes (stand-ins)"
    # No image is involved in --help.
    assert row(rows, "`start.sh --help`")[5] == "yes"
    official = build_rows(results(cpu_on=0.005, slices_on=0.005), settings(), "official", standins=False)
    assert row(official, "`start.sh` vs")[5] == "yes (official images)"


def test_tail_and_health_targets_are_the_issue_s():
    rows = build_rows(results(cpu_on=0.005, slices_on=0.005), settings(), "x", standins=False)
    assert row(rows, "last service ready")[4] == "≤ 0.5 s"
    assert row(rows, "postgres ready → langfuse started")[4] == "≤ 1.0 s"
    assert row(rows, "`health-check.sh` vs")[4] == "median < 300 ms"


def test_less_cpu_with_healthchecks_than_without_is_no_pass():
    rows = build_rows(results(cpu_on=0.0, slices_on=0.0), settings(), "x", standins=True)
    assert row(rows, "CPU, healthchecks together")[5] == "n/a (below zero: disturbed)"


def quiet_bench(quick: bool):
    from transbench.phases import Bench

    bench = object.__new__(Bench)
    bench.settings = settings()
    bench.settings.quick = quick
    bench.results = Results()
    return bench


def test_a_busy_idle_window_is_taken_again_and_the_quietest_kept():
    bench = quiet_bench(quick=False)
    takes = iter([0.9, 0.4, 0.6])
    kept = bench.quiet_window("idle 1", lambda: {"other_work_cores": next(takes)})
    assert kept["other_work_cores"] == 0.4
    assert len(bench.results.retries) == 2


def test_a_quiet_idle_window_is_kept_at_once():
    bench = quiet_bench(quick=False)
    takes = iter([0.1, 0.9])
    assert bench.quiet_window("idle 1", lambda: {"other_work_cores": next(takes)})["other_work_cores"] == 0.1
    assert bench.results.retries == []


def test_quick_mode_takes_each_idle_window_once():
    bench = quiet_bench(quick=True)
    takes = iter([0.9, 0.1])
    assert bench.quiet_window("idle 1", lambda: {"other_work_cores": next(takes)})["other_work_cores"] == 0.9

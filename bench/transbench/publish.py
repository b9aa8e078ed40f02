"""A run's figures as the documents show them: `--publish NAME` writes
bench/results/NAME.json, which docs/generate.py renders into
docs/performance.md. Every figure is computed here from the run's samples,
the same way as the run's own table; the file also says when, how and on
what the run was made, so that each generated block can say it too."""

from __future__ import annotations

import re

from support.stack import SERVICES

from .common import (
    BASELINE,
    BENCH_DIR,
    GAP_TARGET_S,
    HEALTH_CHECK_TARGET_S,
    HEALTHCHECK_CPU_TARGET,
    OVERHEAD_TARGET_S,
    SCRIPTS,
    START_RATIO_TARGET,
    TAIL_TARGET_S,
    median,
    paired_ratio,
    write_published_file,
)
from .notes import TIMELINE_ROWS
from .phases import Results
from .report import idle_figures, probes_per_second
from .settings import Settings

RESULTS_DIR = BENCH_DIR / "results"
NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


def name_problem(name: str) -> str | None:
    """Why NAME cannot name a published file, or None."""
    if not NAME.match(name) or name == "latest":
        return f"--publish takes a name of lower-case letters, digits, dots and dashes, not 'latest': {name!r}"
    return None


def command_of(settings: Settings) -> str:
    """The command that repeats the run, from its settings."""
    rows = ",".join(str(count) for count in settings.row_counts)
    words = ["./bench/run.sh", f"--repeat {settings.repeat}", f"--idle-window {settings.idle_window:g}",
             f"--rows {rows}"]
    if settings.quick:
        words.insert(1, "--quick")
    if settings.path:
        words.append(f"--path {settings.path}")
    return " ".join(words)


def _medians(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return median(known) if known else None


def start_figures(runs: list) -> dict | None:
    measured = [r.seconds for r in runs if r.kind == SCRIPTS]
    baseline = [r.seconds for r in runs if r.kind == BASELINE]
    if not measured or not baseline:
        return None
    return {"scripts_s": median(measured), "baseline_s": median(baseline), "ratio": paired_ratio(measured, baseline)}


def timeline_value(runs: list, phase_kind: str, key: str) -> float | None:
    return _medians([r.timeline.get(key) for r in runs if r.kind == phase_kind])


def figures(results: Results) -> dict:
    cold = results.starts.get("cold", [])
    warm = [r for r in results.starts.get("warm", []) if r.rows == 0]
    found: dict = {"cold": start_figures(cold), "warm": start_figures(warm)}
    for key, name in (("gap_ready_to_langfuse_started", "gap_s"), ("tail_after_ready", "tail_s")):
        found[name] = {"cold": timeline_value(cold, SCRIPTS, key), "warm": timeline_value(warm, SCRIPTS, key)}
    if results.health.get(0):
        found["health"] = {"scripts_s": median(results.health[0][SCRIPTS]),
                           "baseline_s": median(results.health[0][BASELINE])}
    if results.idle:
        whole = idle_figures(results, "window_averages")
        rates = [probes_per_second(r["healthchecks"])[0] for r in results.idle]
        per_probe = [p / rate for p, rate in zip(whole["probes"], rates) if rate]
        found["idle"] = {"healthchecks_cpu": median(whole["probes"]), "whole_cpu": median(whole["whole"]),
                         "per_probe_cpu_s": median(per_probe) if per_probe else None,
                         "probes_per_minute": median([r * 60 for r in rates if r]) if any(rates) else None}
        found["memory_mib"] = {s: median([r["healthchecks"]["memory"][s] for r in results.idle]) / 2**20
                               for s in SERVICES}
    medians = {"scripts_s": [], "baseline_s": []}
    for entry in results.overhead.values():
        for data in entry.values():
            if not data.get("not_applicable"):
                medians["scripts_s"].append(median(data["scripts"]))
                medians["baseline_s"].append(median(data["baseline"]))
    if medians["scripts_s"]:
        found["overhead"] = {key: [min(values), max(values)] for key, values in medians.items()}
    growth = []
    for rows, data in sorted(results.growth.items()):
        runs = [r for r in results.starts.get("warm", []) if r.rows == rows]
        if rows == 0 or not runs or not results.health.get(rows):
            continue
        start = start_figures(runs)
        growth.append({"rows": rows, "database_mib": (data.get("database_bytes") or 0) / 2**20,
                       "warm_s": start["scripts_s"], "ratio": start["ratio"],
                       "health_s": median(results.health[rows][SCRIPTS])})
    if growth:
        found["growth"] = growth
    from .healthy import figures as healthy_figures

    found["healthy"] = healthy_figures(results)
    found["timeline"] = [[label] + [timeline_value([r for r in runs_of if r.rows == 0], kind, key)
                                    for runs_of in (cold, warm) for kind in (SCRIPTS, BASELINE)]
                         for key, label in TIMELINE_ROWS]
    return {key: value for key, value in found.items() if value is not None}


def published(results: Results, settings: Settings, info: dict, meta: dict) -> dict:
    engine = info["docker"].split(" (")[0]
    return {
        "label": f"{meta.get('path', 'portable')} path, {engine}",
        "date": meta["date"],
        "command": command_of(settings),
        "machine": f"{info['cpu']}, {info['memory']} RAM; {info['os']}; {info['python']}",
        "engine": info["docker"],
        "compose": info["compose"],
        "images": meta["images"],
        "load": meta["load"],
        "rounds": settings.repeat,
        "idle_window_s": settings.idle_window,
        "targets": {"start_ratio": START_RATIO_TARGET, "gap_s": GAP_TARGET_S, "tail_s": TAIL_TARGET_S,
                    "health_s": HEALTH_CHECK_TARGET_S, "healthcheck_cpu": HEALTHCHECK_CPU_TARGET,
                    "overhead_s": OVERHEAD_TARGET_S},
        "figures": figures(results),
    }


def write(name: str, results: Results, settings: Settings, info: dict, meta: dict):
    return write_published_file(RESULTS_DIR / f"{name}.json", published(results, settings, info, meta))

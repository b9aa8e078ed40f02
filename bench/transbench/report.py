"""The report's main table: one row per figure, with its target and verdict.

Every verdict of a figure measured on a stack says which images it was
measured on, in the cell itself (issue 14: a figure of the stand-ins must not
read as the official images'). Idle CPU is given over the whole window, bursts
included, and beside it as the median of the window's slices.
"""

from __future__ import annotations

from support.stack import SERVICES

from .common import (
    BASELINE,
    GAP_TARGET_S,
    HEALTH_CHECK_TARGET_S,
    HEALTHCHECK_CPU_TARGET,
    OVERHEAD_TARGET_S,
    SCRIPTS,
    START_RATIO_TARGET,
    TAIL_TARGET_S,
    UNKNOWN_OPTION,
    fmt_cpu,
    fmt_mib,
    fmt_ratio,
    fmt_seconds,
    median,
    met,
    paired_ratio,
    summary,
)
from .phases import Results
from .settings import Settings
from .timeline import StartRun

HEADER = ["measurement", "scripts (median)", "baseline (median)", "ratio", "target", "met?"]


def containers(rates: dict) -> float:
    return sum(rates[s] for s in SERVICES)


def engine(rates: dict) -> float:
    return rates["dockerd"] + rates["containerd"] + rates["shims"]


def idle_figures(results: Results, key: str) -> dict[str, list[float]]:
    """The idle cost per round from the rates under KEY: window_averages
    (the whole window) or rates (the median of its slices)."""
    on = [r["healthchecks"][key] for r in results.idle]
    off = [r["no_healthchecks"][key] for r in results.idle]
    probes_in = [containers(a) - containers(b) for a, b in zip(on, off)]
    probes_engine = [engine(a) - engine(b) for a, b in zip(on, off)]
    probes = [x + y for x, y in zip(probes_in, probes_engine)]
    services = [containers(b) for b in off]
    return {"on": on, "off": off, "probes_in": probes_in, "probes_engine": probes_engine, "probes": probes,
            "services": services, "whole": [s + p for s, p in zip(services, probes)]}


def probes_per_second(window: dict) -> tuple[float | None, str]:
    """Probes a second in one healthchecks-on window: counted from Docker's
    health log when it kept them all, else from the intervals."""
    intervals = window["probe_intervals"]
    counted = window.get("probes") or {}
    seconds = window.get("seconds")
    if seconds and counted and all(counted.get(s) is not None for s in SERVICES):
        total = sum(counted[s] for s in SERVICES)
        parts = ", ".join(f"{s} {counted[s]}" for s in SERVICES)
        return total / seconds, f"{total} probes in {seconds:.0f} s, counted: {parts}"
    rate = sum(1 / i for i in intervals.values() if i)
    parts = ", ".join(f"{s} every {intervals[s]:g} s" for s in SERVICES if intervals.get(s))
    return (rate or None), f"{rate * 60:.0f} probes a minute: {parts}"


def build_rows(results: Results, settings: Settings, context: str, standins: bool) -> list[list[str]]:
    rows: list[list[str]] = [[f"**Measured on: {context}**", "", "", "", "", ""]]
    on_images = " (stand-ins)" if standins else " (official images)"

    def verdict(ok: bool | None) -> str:
        return met(ok) if ok is None else met(ok) + on_images

    def section(title: str) -> None:
        rows.append([f"**{title}**", "", "", "", "", ""])

    def start_rows(runs: list[StartRun]) -> None:
        measured = [r for r in runs if r.kind == SCRIPTS]
        baseline = [r for r in runs if r.kind == BASELINE]
        m = [r.seconds for r in measured]
        b = [r.seconds for r in baseline]
        ratio = paired_ratio(m, b)
        rows.append(["`start.sh` vs `docker compose up -d --wait`", summary(m, fmt_seconds), summary(b, fmt_seconds),
                     fmt_ratio(ratio), f"ratio ≤ {START_RATIO_TARGET:.2f}",
                     verdict(None if ratio is None else ratio <= START_RATIO_TARGET)])
        for key, label, target in (
            ("floor", "… floor: the services' own start, no probe or poll latency", None),
            ("gap_ready_to_langfuse_started", "postgres ready → langfuse started", GAP_TARGET_S),
            ("tail_after_ready", "last service ready (its log) → command returned", TAIL_TARGET_S),
        ):
            fm = [r.timeline.get(key) for r in measured]
            fb = [r.timeline.get(key) for r in baseline]
            known = [v for v in fm if v is not None]
            rows.append([label, summary(fm, fmt_seconds), summary(fb, fmt_seconds), fmt_ratio(paired_ratio(fm, fb)),
                         f"≤ {target:.1f} s" if target else "",
                         verdict(median(known) <= target if known else None) if target else "—"])

    def health_row(label: str, samples: dict[str, list[float]]) -> None:
        hm, hb = samples[SCRIPTS], samples[BASELINE]
        rows.append([label, summary(hm, fmt_seconds), summary(hb, fmt_seconds), fmt_ratio(paired_ratio(hm, hb)),
                     f"median < {HEALTH_CHECK_TARGET_S * 1000:.0f} ms", verdict(median(hm) < HEALTH_CHECK_TARGET_S)])

    section("Cold start: empty volumes/ → every service healthy")
    start_rows(results.starts.get("cold", []))
    section("Warm start: data kept, containers removed by stop.sh")
    warm = results.starts.get("warm", [])
    start_rows([r for r in warm if r.rows == 0])

    section("Health check on a healthy stack")
    if results.health.get(0):
        health_row("`health-check.sh` vs `docker compose ps`", results.health[0])

    from .healthy import rows as healthy_rows

    rows.extend(healthy_rows(results, verdict))

    if results.idle:
        idle_rows(rows, results, settings, verdict)

    if results.overhead:
        section("Script overhead, no engine work (baseline: the same with `docker compose`)")
        for name, entry in results.overhead.items():
            for mode, label in (("help", f"`{name} --help`"), ("usage", f"`{name} {UNKNOWN_OPTION}`")):
                data = entry.get(mode, {})
                if data.get("not_applicable"):
                    rows.append([label, f"n/a (exit {data['exit']}: no usage error, options go through)",
                                 "", "", "", "—"])
                    continue
                m, b = data["scripts"], data["baseline"]
                # No image is involved: the verdict needs no "on what".
                rows.append([label, summary(m, fmt_seconds), summary(b, fmt_seconds), fmt_ratio(paired_ratio(m, b)),
                             f"< {OVERHEAD_TARGET_S * 1000:.0f} ms", met(median(m) < OVERHEAD_TARGET_S)])

    section("Growth: the TransBot database (translation rows)")
    for count in settings.row_counts:
        runs = [r for r in warm if r.rows == count]
        label = f"{count:,}".replace(",", " ")
        size = results.growth.get(count, {}).get("database_bytes")
        size_text = f", {size / 2**20:.0f} MiB" if size else ""
        if runs:
            m = [r.seconds for r in runs if r.kind == SCRIPTS]
            b = [r.seconds for r in runs if r.kind == BASELINE]
            ratio = paired_ratio(m, b)
            same = " (the warm start above)" if count == 0 else ""
            rows.append([f"warm start, {label} rows{size_text}{same}", summary(m, fmt_seconds), summary(b, fmt_seconds),
                         fmt_ratio(ratio), f"ratio ≤ {START_RATIO_TARGET:.2f}",
                         verdict(None if ratio is None else ratio <= START_RATIO_TARGET)])
        if results.health.get(count):
            health_row(f"`health-check.sh`, {label} rows", results.health[count])
    return rows


def idle_rows(rows: list[list[str]], results: Results, settings: Settings, verdict) -> None:
    rows.append([f"**Idle cost over {settings.idle_window:.0f} s at rest, CPU in % of one core, over the whole "
                 f"window (baseline: the same stack with healthchecks off)**", "", "", "", "", ""])
    whole = idle_figures(results, "window_averages")
    slices = idle_figures(results, "rates")
    on, off = whole["on"], whole["off"]
    rows.append(["CPU, whole stack (services + healthchecks)", summary(whole["whole"], fmt_cpu),
                 summary(whole["services"], fmt_cpu), fmt_ratio(paired_ratio(whole["whole"], whole["services"])),
                 "", "—"])
    for service in SERVICES:
        rows.append([f"… {service} container (with its probes)", summary([r[service] for r in on], fmt_cpu),
                     summary([r[service] for r in off], fmt_cpu),
                     fmt_ratio(paired_ratio([r[service] for r in on], [r[service] for r in off])), "", "—"])
    probes = whole["probes"]
    # Less CPU with healthchecks than without is noise, not a pass.
    noise = median(probes) < 0
    rows.append(["CPU, healthchecks together (on − off)", summary(probes, fmt_cpu), "0 (off)", "",
                 f"< {HEALTHCHECK_CPU_TARGET * 100:.0f} %",
                 "n/a (below zero: disturbed)" if noise else verdict(median(probes) < HEALTHCHECK_CPU_TARGET)])
    rows.append([f"… the same as the median of {settings.idle_step:g} s slices (drops bursts, probes included)",
                 summary(slices["probes"], fmt_cpu), "", "", "", "—"])
    rows.append(["… of which the probe commands in the containers", summary(whole["probes_in"], fmt_cpu),
                 "", "", "", "—"])
    rows.append(["… of which dockerd, containerd, shims and runc", summary(whole["probes_engine"], fmt_cpu),
                 "", "", "", "—"])
    windows = [r["healthchecks"] for r in results.idle]
    counted = [probes_per_second(window) for window in windows]
    per_probe = [p / rate for p, (rate, _) in zip(probes, counted) if rate]
    if per_probe:
        rows.append([f"… per probe ({counted[0][1]})", summary(per_probe, fmt_seconds) + " of CPU",
                     "", "", "", "—"])
    rows.append(["CPU, whole stack, as the median of slices", summary(slices["whole"], fmt_cpu),
                 summary(slices["services"], fmt_cpu), fmt_ratio(paired_ratio(slices["whole"], slices["services"])),
                 "", "—"])
    busy_on = [r["healthchecks"].get("other_work_cores") for r in results.idle]
    busy_off = [r["no_healthchecks"].get("other_work_cores") for r in results.idle]
    if None not in busy_on + busy_off:
        rows.append(["other work on the machine meanwhile (its CPU minus the stack's and the engine's)",
                     summary(busy_on, fmt_cpu), summary(busy_off, fmt_cpu), "", "", "—"])
    for service in SERVICES:
        mem_on = [r["healthchecks"]["memory"][service] for r in results.idle]
        mem_off = [r["no_healthchecks"]["memory"][service] for r in results.idle]
        rows.append([f"memory, {service}", summary(mem_on, fmt_mib), summary(mem_off, fmt_mib),
                     fmt_ratio(paired_ratio(mem_on, mem_off)), "", "—"])

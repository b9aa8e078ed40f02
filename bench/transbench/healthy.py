"""Issue 21's figures: start.sh on a stack that already runs healthy against
raw `docker compose up -d --wait` on it, and the stricter targets of the
warm and cold starts and of the health check, taken from the samples of
the phases that measure those.

On a healthy stack whose configuration has not changed, start.sh answers
from what it recorded (scripts/lib/model.sh) without running Compose; raw
`up -d --wait` reads the configuration, compares every container and polls
health once. Both must exit 0, and start.sh must leave the containers as
they were.
"""

from __future__ import annotations

import time

from support.engine import run
from support.stack import Stack

from .common import BASELINE, SCRIPTS, BenchError, fmt_ratio, fmt_seconds, median, paired_ratio, require_ok, summary

HEALTHY_START_TARGET_S = 0.5     # start.sh on a healthy, unchanged stack
HEALTHY_START_RATIO_TARGET = 0.5  # ... less than half of raw `up -d --wait`
STRICT_START_RATIO_TARGET = 1.05  # warm and cold start against raw `up -d --wait`
STRICT_HEALTH_CHECK_TARGET_S = 0.250
ROUNDS = 5


def container_ids(stack: Stack) -> list[str]:
    listed = run(["docker", "ps", "-aq", "--no-trunc", "--filter", f"label=com.docker.compose.project={stack.project}"])
    return sorted(listed.stdout.split())


def measure_healthy_start(bench, stack: Stack) -> dict[str, list[float]]:
    """Alternating rounds (A B, B A, ...) on the running, healthy stack."""
    samples: dict[str, list[float]] = {SCRIPTS: [], BASELINE: []}
    rounds = max(ROUNDS, bench.settings.fast_runs)
    # Once through start.sh, so that what it records is this very stack.
    require_ok("start.sh", stack.script("start.sh"))
    before = container_ids(stack)
    for index in range(rounds):
        order = (SCRIPTS, BASELINE) if index % 2 == 0 else (BASELINE, SCRIPTS)
        for kind in order:
            began = time.perf_counter()
            if kind == SCRIPTS:
                result = stack.script("start.sh")
            else:
                result = bench.compose_cli(stack, "up", "-d", "--wait", timeout=300)
            samples[kind].append(time.perf_counter() - began)
            require_ok("start.sh" if kind == SCRIPTS else "docker compose up -d --wait", result)
    if container_ids(stack) != before:
        raise BenchError("the containers changed while start.sh and up --wait ran on a healthy stack")
    bench.note_others()
    return samples


def start_ratio(runs) -> float | None:
    return paired_ratio([r.seconds for r in runs if r.kind == SCRIPTS], [r.seconds for r in runs if r.kind == BASELINE])


def rows(results, verdict) -> list[list[str]]:
    """The section of the report's table."""
    found = [["**Issue 21: a healthy stack answers at once; starts within 5 % of raw Compose**", "", "", "", "", ""]]
    samples = results.healthy_start
    if samples:
        m, b = samples[SCRIPTS], samples[BASELINE]
        ratio = paired_ratio(m, b)
        ok = median(m) <= HEALTHY_START_TARGET_S and ratio is not None and ratio < HEALTHY_START_RATIO_TARGET
        found.append(["`start.sh` on a healthy, unchanged stack vs `docker compose up -d --wait`",
                      summary(m, fmt_seconds), summary(b, fmt_seconds), fmt_ratio(ratio),
                      f"≤ {HEALTHY_START_TARGET_S:.1f} s and < {HEALTHY_START_RATIO_TARGET:.1f}×", verdict(ok)])
    for phase, label in (("cold", "cold start"), ("warm", "warm start (data kept)")):
        runs = [r for r in results.starts.get(phase, []) if r.rows == 0]
        ratio = start_ratio(runs)
        if ratio is not None:
            found.append([f"{label}: `start.sh` / `up -d --wait`, median of the per-round ratios",
                          "", "", fmt_ratio(ratio), f"≤ {STRICT_START_RATIO_TARGET:.2f}×",
                          verdict(ratio <= STRICT_START_RATIO_TARGET)])
    health = results.health.get(0)
    if health:
        found.append(["`health-check.sh` on a healthy stack vs `docker compose ps`", summary(health[SCRIPTS], fmt_seconds),
                      summary(health[BASELINE], fmt_seconds), fmt_ratio(paired_ratio(health[SCRIPTS], health[BASELINE])),
                      f"≤ {STRICT_HEALTH_CHECK_TARGET_S * 1000:.0f} ms",
                      verdict(median(health[SCRIPTS]) <= STRICT_HEALTH_CHECK_TARGET_S)])
    return found if len(found) > 1 else []


def figures(results) -> dict | None:
    """The published figures (bench/results/NAME.json, "healthy")."""
    found = {}
    if results.healthy_start:
        m, b = results.healthy_start[SCRIPTS], results.healthy_start[BASELINE]
        found["healthy_start"] = {"scripts_s": median(m), "baseline_s": median(b), "ratio": paired_ratio(m, b)}
    for phase in ("cold", "warm"):
        ratio = start_ratio([r for r in results.starts.get(phase, []) if r.rows == 0])
        if ratio is not None:
            found[f"{phase}_ratio"] = ratio
    if results.health.get(0):
        found["health_s"] = median(results.health[0][SCRIPTS])
    if not found:
        return None
    found["targets"] = {"healthy_start_s": HEALTHY_START_TARGET_S, "healthy_start_ratio": HEALTHY_START_RATIO_TARGET,
                        "start_ratio": STRICT_START_RATIO_TARGET, "health_s": STRICT_HEALTH_CHECK_TARGET_S}
    return found

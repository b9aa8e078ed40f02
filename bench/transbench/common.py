"""What every module shares: paths, targets, errors, logging, number formats."""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = BENCH_DIR.parent

SCRIPTS = "scripts"
BASELINE = "baseline"
DEFAULT_OUTPUT = BENCH_DIR / "results" / "latest.md"
UNKNOWN_OPTION = "--bench-no-such-option"

# Targets from the issues (11: both paths; 14: honest figures). A missed
# target is reported, never a failure.
START_RATIO_TARGET = 1.10
GAP_TARGET_S = 1.0  # postgres ready -> langfuse container started
TAIL_TARGET_S = 0.5  # last service ready (its own log) -> start.sh returned
HEALTH_CHECK_TARGET_S = 0.300
HEALTHCHECK_CPU_TARGET = 0.01  # of one core, over the whole idle window
OVERHEAD_TARGET_S = 0.050


class BenchError(Exception):
    """The benchmark could not run (not: a target was missed)."""


class Disturbed(BenchError):
    """Something outside the benchmark changed the stack during a measurement
    (on a shared engine: another run restarting dockerd, say)."""


class Unrepeatable(BenchError):
    """A failure that taking the measurement again cannot cure (the scripts
    took another path than the one measured, say)."""


# A measurement that fails is taken again this many times before the run
# gives up; every retry is logged and listed in the output.
RETRIES = 2


# --- Small helpers ----------------------------------------------------------------

_began = time.monotonic()


def log(message: str) -> None:
    elapsed = int(time.monotonic() - _began)
    print(f"[bench {elapsed // 60:02d}:{elapsed % 60:02d}] {message}", file=sys.stderr, flush=True)


def require_ok(label: str, result, expect: tuple[int, ...] = (0,)) -> None:
    if result.returncode not in expect:
        raise BenchError(f"{label} exited {result.returncode}, expected {expect}\n"
                         f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}")


def median(values: list[float]) -> float:
    return statistics.median(values)


def parse_docker_time(text: str) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp with nanoseconds, as Docker writes them."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text.strip())
    if not match or match.group(1).startswith("0001-"):
        return None
    base = datetime.fromisoformat(match.group(1) + ("+00:00" if match.group(3) == "Z" else match.group(3)))
    fraction = float("0." + match.group(2)) if match.group(2) else 0.0
    return base.timestamp() + fraction


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) < 1:
        return f"{value * 1000:.0f} ms" if abs(value) >= 0.1 else f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def fmt_cpu(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f} %"


def fmt_mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f} MiB"


def summary(values: list[float], fmt) -> str:
    """Median, with the range when there is more than one sample."""
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(median(values))} [{fmt(min(values))}–{fmt(max(values))}]"


def paired_ratio(measured: list[float], baseline: list[float]) -> float | None:
    """Median of the per-round ratios: each round ran both, back to back."""
    ratios = [m / b for m, b in zip(measured, baseline) if m is not None and b]
    return median(ratios) if ratios else None


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def write_published_file(path: Path, data: dict) -> Path:
    """A published figures file (bench/results/NAME.json), written whole or
    not at all: docs/generate.py and its lint read every file there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    temporary.replace(path)
    return path

"""The run's settings, from the command line."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from .common import DEFAULT_OUTPUT, REPO_ROOT


@dataclass
class Settings:
    repeat: int
    quick: bool
    idle_window: float
    idle_rounds: int
    idle_settle: float
    idle_step: float
    fast_runs: int
    overhead_runs: int
    row_counts: list[int]
    output: Path
    from_json: Path | None = None
    # fast, portable, or None: the path the scripts pick on this engine.
    path: str | None = None
    # NAME: also write bench/results/NAME.json, the figures the documents show.
    publish: str | None = None


def parse_args(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(
        prog="bench/run.sh",
        description="Benchmarks the stack's scripts against raw Compose and writes a markdown table.",
    )
    parser.add_argument("--repeat", type=int, default=None, metavar="N",
                        help="start runs per variant and size (default 5; 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a short run: 1 repetition, 10 s idle windows, 0 and 10k rows")
    parser.add_argument("--idle-window", type=float, default=None, metavar="SECONDS",
                        help="length of each idle CPU window (default 60; 10 with --quick)")
    parser.add_argument("--rows", default=None, metavar="N,N,...",
                        help="translation row counts to grow through (default 0,100000,1000000; 0,10000 with --quick)")
    parser.add_argument("--path", choices=("fast", "portable"), default=None,
                        help="the compose files to measure, for start.sh and the baseline alike: fast "
                             "(docker-compose.yml + services/compose/fast-healthchecks.yml; Engine API >= 1.44, "
                             "Compose >= 2.24) or portable (docker-compose.yml alone); default: what the scripts "
                             "pick on this engine")
    parser.add_argument("--from-json", type=Path, default=None, metavar="FILE",
                        help="measure nothing: render the table again from a run's .json")
    parser.add_argument("--publish", default=None, metavar="NAME",
                        help="also write bench/results/NAME.json, the figures docs/performance.md shows "
                             "(then run python3 docs/generate.py and commit both)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="FILE",
                        help=f"where to write the markdown (default {DEFAULT_OUTPUT.relative_to(REPO_ROOT)}); "
                             "the raw samples go next to it as .json")
    args = parser.parse_args(argv)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 5)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    window = args.idle_window if args.idle_window is not None else (10.0 if args.quick else 60.0)
    if window < 2:
        parser.error("--idle-window must be at least 2 seconds")
    rows_text = args.rows if args.rows is not None else ("0,10000" if args.quick else "0,100000,1000000")
    try:
        rows = sorted({int(part.replace("_", "")) for part in rows_text.split(",") if part.strip()})
    except ValueError:
        parser.error(f"--rows takes whole numbers separated by commas, not {rows_text!r}")
    if not rows or rows[0] < 0:
        parser.error("--rows needs at least one count, none negative")
    if rows[0] != 0:
        rows.insert(0, 0)
    if args.publish is not None:
        from .publish import name_problem

        problem = name_problem(args.publish)
        if problem:
            parser.error(problem)
    output = args.output if args.output.is_absolute() else Path.cwd() / args.output
    return Settings(
        repeat=repeat,
        quick=args.quick,
        idle_window=window,
        idle_rounds=min(2, repeat),
        idle_settle=5.0 if args.quick else 20.0,
        idle_step=min(5.0, window / 5),
        fast_runs=max(3, 2 * repeat),
        overhead_runs=5 if args.quick else 20,
        row_counts=rows,
        output=output,
        from_json=args.from_json,
        path=args.path,
        publish=args.publish,
    )


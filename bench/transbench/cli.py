"""The command: options, the run with its clean-up, the markdown and the .json.

Exit status: 0 when every measurement ran (targets met or not), 1 when the
benchmark itself could not run.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from support.engine import test_images

from .common import BenchError, log
from . import publish
from .compose_path import choose
from .machine import image_mode, load_average, machine, other_containers
from .phases import Bench, Results
from .notes import render
from .settings import Settings, parse_args
from .stacks import engine_with_compose_v2, remove_stale_stacks
from .timeline import StartRun


def rerender(settings: Settings) -> int:
    """The table of an earlier run, from its raw samples, e.g. after the notes changed."""
    try:
        raw = json.loads(settings.from_json.read_text())
        saved = raw["settings"]
        results = Results(
            overhead=raw["overhead"],
            bash_floor=raw["bash_floor"],
            starts={phase: [StartRun(**run) for run in runs] for phase, runs in raw["starts"].items()},
            health={int(rows): samples for rows, samples in raw["health"].items()},
            idle=raw["idle"],
            growth={int(rows): data for rows, data in raw["growth"].items()},
            retries=raw.get("retries", []),
            healthy_start=raw.get("healthy_start", {}),
        )
        old = Settings(**{**saved, "output": Path(saved["output"]), "from_json": None, "publish": None})
    except (OSError, KeyError, TypeError, ValueError) as exc:
        print(f"bench: error: cannot read {settings.from_json}: {exc}", file=sys.stderr)
        return 1
    markdown = render(results, old, raw["machine"], raw["meta"])
    print(markdown)
    settings.output.parent.mkdir(parents=True, exist_ok=True)
    settings.output.write_text(markdown)
    if settings.publish:
        log(f"wrote {publish.write(settings.publish, results, old, raw['machine'], raw['meta'])}")
    return 0


def main(argv: list[str]) -> int:
    settings = parse_args(argv)
    if settings.from_json is not None:
        return rerender(settings)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.time()
    bench = None
    try:
        found = engine_with_compose_v2("the baseline")
        path = choose(settings.path, found, dict(os.environ))
        log(f"path: {path.describe()}")
        remove_stale_stacks()
        log("images (tests/images/build.sh reuses current stand-ins)")
        images = test_images()
        info = machine()
        others_before = other_containers()
        load_before = load_average()
        bench = Bench(settings, found, images, path)
        bench.run()
        others_after = other_containers()
        load_after = load_average()
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        print("bench: error: the benchmark failed (see above)", file=sys.stderr)
        return 1
    finally:
        if bench is not None:
            log("removing the benchmark's stacks")
            bench.cleanup()
    duration = time.time() - started
    meta = {
        "date": datetime.fromtimestamp(started, timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": (f"quick mode ({settings.repeat} repetition, {settings.idle_window:g} s idle window)"
                 if settings.quick else f"{settings.repeat} repetitions, {settings.idle_window:g} s idle windows"),
        "duration": f"{duration / 60:.1f} min",
        "images": image_mode(images),
        "standins": all(image.startswith("transbot-standin/") for image in images.values()),
        "path": path.name,
        "api": path.api,
        "path_text": path.describe(),
        "load": (f"{others_before} other container(s) on this engine at the start, {others_after} at the end, "
                 f"up to {max(bench.others_seen, others_before, others_after)} between measurements; "
                 f"1-minute load average {load_before} at the start, {load_after} at the end "
                 f"(other work shares the CPUs and dockerd)."),
    }
    markdown = render(bench.results, settings, info, meta)
    print(markdown)
    settings.output.parent.mkdir(parents=True, exist_ok=True)
    settings.output.write_text(markdown)
    raw = {
        "meta": meta,
        "machine": info,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(settings).items()
                     if k not in ("from_json", "publish")},
        "overhead": bench.results.overhead,
        "bash_floor": bench.results.bash_floor,
        "starts": {phase: [vars(r) for r in runs] for phase, runs in bench.results.starts.items()},
        "health": bench.results.health,
        "idle": bench.results.idle,
        "growth": bench.results.growth,
        "retries": bench.results.retries,
        "healthy_start": bench.results.healthy_start,
    }
    settings.output.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str))
    log(f"wrote {settings.output} and {settings.output.with_suffix('.json').name}")
    if settings.publish:
        log(f"wrote {publish.write(settings.publish, bench.results, settings, info, meta)}")
    return 0

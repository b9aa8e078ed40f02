#!/usr/bin/env python3
"""Writes the tables of measured figures into the documents, from the
committed result files: nobody pastes a figure by hand.

    python3 docs/generate.py           # rewrite every generated block
    python3 docs/generate.py --check   # exit 1, with a diff, when a block differs
    python3 docs/generate.py --publish-reliability
        # tests/reliability/.last-report.json (the last run of the layer)
        # into tests/reliability/results/published.json, then rewrite

A block is everything between

    <!-- generated KIND from FILE [FILE ...]: do not edit, run python3 docs/generate.py -->
    <!-- end generated -->

KIND says what to render (runs, summary, timeline, upgrade, reliability),
the FILEs (repository paths) what from. The benchmarks write their files
with `./bench/run.sh ... --publish NAME` or `./bench/upgrade.sh ...
--publish NAME` (bench/results/NAME.json); the reliability layer writes
.last-report.json, which --publish-reliability takes over.
tests/lint/test_generated_figures.py fails when a block differs from what
this makes of the committed files. Only the standard library.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ("docs/performance.md", "docs/reliability.md", "README.md", "README.ko.md")
BLOCK = re.compile(
    r"(?P<open><!-- generated (?P<kind>\w+) from (?P<files>[^:>]+): do not edit[^>]*-->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- end generated -->)",
    re.S,
)
RELIABILITY_REPORT = ROOT / "tests" / "reliability" / ".last-report.json"
RELIABILITY_PUBLISHED = ROOT / "tests" / "reliability" / "results" / "published.json"


class Problem(Exception):
    """A block or a result file this cannot render: one line for the user."""


# --- Formatting ------------------------------------------------------------------


def bold_if(missed: bool, text: str) -> str:
    return f"**{text}**" if missed else text


def seconds(value: float) -> str:
    return f"{value:.2f}"


def millis(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def percent(fraction: float) -> str:
    value = fraction * 100
    return f"{value:.2f} %" if value < 1 else f"{value:.1f} %"


def count(rows: int) -> str:
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if rows >= size and rows % size == 0:
            return f"{rows // size}{suffix}"
    return str(rows)


# --- The benchmark's files -------------------------------------------------------


def load(path: str) -> dict:
    try:
        return json.loads((ROOT / path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Problem(f"{path} does not exist") from None
    except ValueError as exc:
        raise Problem(f"{path} is not JSON: {exc}") from None


def run_line(run: dict) -> str:
    """When, what and where: the provenance every generated block states."""
    line = f"{run['label']}: {run['date']}, `{run['command']}`, on {run['machine']}; {run['engine']}"
    if run.get("compose"):
        line += f"; {run['compose']}"
    line += f"; {run['images']}"
    if run.get("load"):
        line += f"; {run['load']}"
    return line + "."


def provenance(runs: list[dict], paths: list[str]) -> list[str]:
    lines = []
    for run, path in zip(runs, paths):
        source = f" {run['transcribed']}" if run.get("transcribed") else ""
        lines.append(f"- {run_line(run)} File: `{path}`.{source}")
    return lines


def from_line(runs: list[dict], paths: list[str]) -> str:
    """One line: each file's run, its date and its machine (the runs block has the rest)."""
    parts = []
    for run, path in zip(runs, paths):
        how = ", transcribed" if run.get("transcribed") else ""
        parts.append(f"{run['label']}: {run['date']} on {run['machine'].split(';')[0]} (`{path}`{how})")
    return "From " + "; ".join(parts) + "."


def render_runs(runs: list[dict], paths: list[str]) -> list[str]:
    lines = provenance(runs, paths)
    for run in runs:
        if run.get("note"):
            lines.append(f"- {run['label']}: {run['note']}")
    return lines


def cell_pair(pair: dict | None, target: float | None, unit=seconds) -> str:
    """"4.77 / 4.82 s (1.00×)": scripts / baseline (ratio); bold when the ratio misses."""
    if not pair:
        return ""
    text = f"{unit(pair['scripts_s'])} / {unit(pair['baseline_s'])} s ({pair['ratio']:.2f}×)"
    return bold_if(target is not None and pair["ratio"] > target, text)


def cell_cold_warm(values: dict | None, target: float) -> str:
    if not values:
        return ""
    cold, warm = values["cold"], values["warm"]
    return f"{bold_if(cold > target, seconds(cold))} / {bold_if(warm > target, seconds(warm) + ' s')}"


def cell_health(health: dict | None, target: float) -> str:
    if not health:
        return ""
    baseline = f" ({millis(health['baseline_s'])})" if health.get("baseline_s") is not None else ""
    return bold_if(health["scripts_s"] >= target, millis(health["scripts_s"])) + baseline


def cell_healthy_start(healthy: dict | None) -> str:
    """start.sh on a healthy, unchanged stack / raw `up -d --wait` (issue 21)."""
    pair = (healthy or {}).get("healthy_start")
    if not pair:
        return ""
    targets = healthy["targets"]
    missed = pair["scripts_s"] > targets["healthy_start_s"] or pair["ratio"] >= targets["healthy_start_ratio"]
    return bold_if(missed, f"{seconds(pair['scripts_s'])} / {seconds(pair['baseline_s'])} s ({pair['ratio']:.2f}×)")


def cell_strict_ratios(healthy: dict | None) -> str:
    """Cold / warm start ratios against issue 21's target."""
    if not healthy or "cold_ratio" not in healthy or "warm_ratio" not in healthy:
        return ""
    target = healthy["targets"]["start_ratio"]
    return " / ".join(bold_if(healthy[key] > target, f"{healthy[key]:.2f}×") for key in ("cold_ratio", "warm_ratio"))


def cell_strict_health(healthy: dict | None) -> str:
    if not healthy or "health_s" not in healthy:
        return ""
    return bold_if(healthy["health_s"] > healthy["targets"]["health_s"], millis(healthy["health_s"]))


def cell_idle(idle: dict | None, target: float) -> str:
    if not idle:
        return ""
    value = idle.get("healthchecks_cpu")
    if isinstance(value, str):  # a run that could not tell it from zero says so
        return value
    return bold_if(value >= target, percent(value)) if value is not None else ""


def cell_probe(idle: dict | None) -> str:
    if not idle or idle.get("per_probe_cpu_s") is None:
        return ""
    return f"{millis(idle['per_probe_cpu_s'])} ({idle['probes_per_minute']:.0f} probes/min)"


def cell_overhead(overhead: dict | None, target: float) -> str:
    if not overhead:
        return ""
    low, high = overhead["scripts_s"]
    text = bold_if(high >= target, f"{low * 1000:.0f}–{high * 1000:.0f} ms")
    base_low, base_high = overhead["baseline_s"]
    return f"{text} ({base_low * 1000:.0f}–{base_high * 1000:.0f} ms)"


def cell_growth(growth: list | None, target: dict) -> str:
    if not growth:
        return ""
    cells = []
    for size in growth:
        start = bold_if(size.get("ratio") is not None and size["ratio"] > target["start_ratio"],
                        seconds(size["warm_s"]) + " s")
        health = bold_if(size["health_s"] >= target["health_s"], millis(size["health_s"]))
        cells.append(f"{start} / {health}")
    return ", ".join(cells)


def cell_memory(memory: dict | None) -> str:
    if not memory:
        return ""
    return ", ".join(f"{service} {mib:.0f} MiB" for service, mib in memory.items())


def cell_whole(idle: dict | None) -> str:
    if not idle or idle.get("whole_cpu") is None:
        return ""
    return percent(idle["whole_cpu"])


def render_summary(runs: list[dict], paths: list[str]) -> list[str]:
    targets = runs[0]["targets"]
    figures = [run["figures"] for run in runs]
    growth_of = next((f["growth"] for f in figures if f.get("growth")), [])
    growth_label = ", ".join(f"{count(g['rows'])} rows ({g['database_mib']:.0f} MiB)" for g in growth_of)
    rows = [
        ("cold start, empty `volumes/` → all healthy: `start.sh` / `docker compose up -d --wait`",
         f"≤ {targets['start_ratio']:.2f}×", lambda f: cell_pair(f.get("cold"), targets["start_ratio"])),
        ("warm start (data kept)", f"≤ {targets['start_ratio']:.2f}×",
         lambda f: cell_pair(f.get("warm"), targets["start_ratio"])),
        ("postgres ready → langfuse started, cold / warm", f"≤ {targets['gap_s']:.1f} s",
         lambda f: cell_cold_warm(f.get("gap_s"), targets["gap_s"])),
        ("last service ready → `start.sh` returned, cold / warm", f"≤ {targets['tail_s']:.1f} s",
         lambda f: cell_cold_warm(f.get("tail_s"), targets["tail_s"])),
        ("`health-check.sh` (`docker compose ps`)", f"< {targets['health_s'] * 1000:.0f} ms",
         lambda f: cell_health(f.get("health"), targets["health_s"])),
        ("idle CPU of the healthchecks (on − off, whole window), % of one core",
         f"< {targets['healthcheck_cpu'] * 100:.0f} %", lambda f: cell_idle(f.get("idle"), targets["healthcheck_cpu"])),
        ("… per probe, CPU", "", lambda f: cell_probe(f.get("idle"))),
        ("idle CPU of the whole stack, healthchecks included", "", lambda f: cell_whole(f.get("idle"))),
        ("memory at rest (working set)", "", lambda f: cell_memory(f.get("memory_mib"))),
        ("`--help` and a usage error, every script (Compose's own)", f"< {targets['overhead_s'] * 1000:.0f} ms",
         lambda f: cell_overhead(f.get("overhead"), targets["overhead_s"])),
        (f"warm start / health check with {growth_label}", "as above",
         lambda f: cell_growth(f.get("growth"), targets)),
        ("`start.sh` on a healthy, unchanged stack / `docker compose up -d --wait`", "≤ 0.5 s and < 0.5×",
         lambda f: cell_healthy_start(f.get("healthy"))),
        ("cold / warm start, `start.sh` / `up -d --wait`", "≤ 1.05×", lambda f: cell_strict_ratios(f.get("healthy"))),
        ("`health-check.sh` on a healthy stack", "≤ 250 ms", lambda f: cell_strict_health(f.get("healthy"))),
    ]
    lines = ["Medians; *scripts / raw Compose (ratio)*. **Bold**: target missed. " + from_line(runs, paths)]
    lines += ["", "| measurement | target | " + " | ".join(run["label"] for run in runs) + " |",
              "|---|---|" + "---|" * len(runs)]
    for label, target, cell in rows:
        cells = [cell(f) for f in figures]
        if any(cells):
            lines.append(f"| {label} | {target} | " + " | ".join(cells) + " |")
    return lines


def render_timeline(runs: list[dict], paths: list[str]) -> list[str]:
    if len(runs) != 1:
        raise Problem("a timeline block takes one result file")
    timeline = runs[0]["figures"].get("timeline")
    if not timeline:
        raise Problem(f"{paths[0]} has no timeline")
    lines = ["Seconds after launch, medians. " + from_line(runs, paths), "",
        "| event | cold, start.sh | cold, compose --wait | warm, start.sh | warm, compose --wait |",
        "|---|---:|---:|---:|---:|",
    ]
    for event, *values in timeline:
        lines.append(f"| {event} | " + " | ".join("n/a" if v is None else seconds(v) for v in values) + " |")
    return lines


def render_swarm(runs: list[dict], paths: list[str]) -> list[str]:
    """bench/swarm.sh's figures: swarm-deploy.sh against the raw `docker
    stack deploy` (plus polling), and the health polls during the updates."""
    if len(runs) != 1:
        raise Problem("a swarm block takes one result file")
    found, target = runs[0]["figures"], runs[0]["targets"]["failed_through_other_node"]

    def row(what: str, pair: dict) -> str:
        return (f"| {what} | {seconds(pair['scripts_s'])} s | {seconds(pair['baseline_s'])} s "
                f"| {pair['ratio']:.2f}× |")

    polls = found["polls"]
    other = polls["failed_through_other_node"]
    return ["Medians over the rounds. " + from_line(runs, paths), "",
            "| measurement | `swarm-deploy.sh` | `docker stack deploy` + polling | ratio |",
            "|---|---:|---:|---:|",
            row("fresh stack → every service healthy", found["fresh"]),
            row("rolling Langfuse update → completed", found["update"]), "",
            f"Health polled every 100 ms through both Langfuse nodes during {polls['updates']} rolling updates: "
            f"{polls['requests']} requests; failed through the node being updated {polls['failed'] - other}, "
            f"through the other node {bold_if(other > target, str(other))} (target: {target})."]


def render_upgrade(runs: list[dict], paths: list[str]) -> list[str]:
    """./bench/upgrade.sh's file: the upgrade script against the same upgrade by hand."""
    if len(runs) != 1:
        raise Problem("an upgrade block takes one result file")
    run = runs[0]
    figures = run["figures"]
    ours, hand, ratio = figures["script"], figures["by_hand"], figures["ratio"]
    lines = [f"PostgreSQL 15 → 17 on {count(run['rows'])} translation rows and a Langfuse trace "
             f"({run['database_mib']} MiB); medians of {run['rounds']} alternating rounds (each way once a round). "
             + from_line(runs, paths), "",
             "| measurement | `upgrade-postgres.sh` | by hand (`pg_dumpall \\| psql`) | ratio |",
             "|---|---:|---:|---:|"]
    for label, key in (("total time", "seconds"), ("downtime: longest time without a right answer", "downtime_s")):
        lines.append(f"| {label} | {seconds(ours[key])} s | {seconds(hand[key])} s | {ratio[key]:.2f}× |")
    lines.append(f"| unavailable: every gap holding a failed probe | {seconds(ours['unavailable_s'])} s | "
                 f"{seconds(hand['unavailable_s'])} s | |")
    lines.append(f"| probe spacing while up (the resolution) | {millis(ours['spacing_s'])} | "
                 f"{millis(hand['spacing_s'])} | |")
    update = figures.get("update")
    if update:
        lines += ["", f"`update-images.sh` recreating every service on a new build of its tag, on the same data: "
                      f"{seconds(figures['update_s'])} s in all (medians).", "",
                  "| service | downtime | unavailable |", "|---|---:|---:|"]
        lines += [f"| {service} | {seconds(values['downtime_s'])} s | {seconds(values['unavailable_s'])} s |"
                  for service, values in update.items()]
    return lines + [""] + provenance(runs, paths)


# --- The reliability layer's file ------------------------------------------------


def reliability_rows(figures: dict) -> list[tuple[str, str, str]]:
    """(topic, what, result) per row whose topic the file holds."""
    rows = []

    def add(topic: str, what: str, result) -> None:
        if topic in figures:
            rows.append((topic, what, result(figures[topic])))

    add("postgres_sigkill", "PostgreSQL killed (SIGKILL) during a stream of committed inserts",
        lambda f: f"every acknowledged insert there after `start.sh` ({f['inserts_found']} of "
                  f"{f['inserts_acknowledged']})" if f["inserts_lost"] == 0 else
                  f"**{f['inserts_lost']} of {f['inserts_acknowledged']} acknowledged inserts lost**")
    for policy in ("everysec", "always"):
        add(f"redis_sigkill_{policy}", f"Redis process killed (SIGKILL) during a stream of SETs, `appendfsync {policy}`",
            lambda f: f"{f['writes_lost']} of {f['writes_acknowledged']} acknowledged SETs lost")
    for policy in ("everysec", "always"):
        add(f"redis_fsync_{policy}", f"fsync calls of Redis with `appendfsync {policy}` (counted with strace)",
            lambda f: f"{f['fsync_calls']} for {f['sets']} SETs in {f['seconds']:.1f} s")
    add("restart_cycles", "stop/start and restart of the stack and of each service",
        lambda f: f"{f['cycles_passed']} cycles with Compose v2 + {f.get('compose_v1_cycles_passed', 0)} with v1: "
                  "healthy, data intact, no leftover containers, networks or volumes")
    add("daemon_restart", "the host's dockerd restarted",
        lambda f: f"the stack comes back by itself in about {f['seconds_until_healthy']:.0f} s, and "
                  "`health-check.sh --wait` says so")
    add("crash_looping_postgres", "a full `volumes/postgres`",
        lambda f: f"`start.sh postgres --timeout 60` reports the crash loop after about {f['start_seconds']:.0f} s")
    add("hostile_input", "hostile and broken input",
        lambda f: f"{f['cases_tried']} cases (unknown services and flags, shell metacharacters, option injection, "
                  "broken `.env.infra`, bad or taken ports, no Docker, no daemon, no Compose, read-only or full "
                  "`volumes/`, CRLF line endings, unusable passwords), each checked for its message, exit code, "
                  "and that nothing changed on disk or in Docker")
    add("hostile_passwords", "passwords with space, quotes, `$`, `#`, `@:/?&%`, backslash, non-ASCII",
        lambda f: "work end to end (PostgreSQL, Redis, Langfuse, the printed URLs); a `LANGFUSE_DB_PASSWORD` that "
                  "is not URL-safe is refused at start, naming it")
    add("process_list", "exposure",
        lambda f: "ports on 127.0.0.1 only by default; unauthenticated clients refused by PostgreSQL, Redis and "
                  "Langfuse's API; `.env.infra` is 0600; no secret in any script's output, the printed logs, "
                  "`docker ps` or the host's process list"
                  + (f" ({f['scans']} scans of it)" if f.get("scans") else "")
                  + "; nothing privileged, nothing mounted from outside the repository")
    return rows


def render_reliability(runs: list[dict], paths: list[str]) -> list[str]:
    if len(runs) != 1:
        raise Problem("a reliability block takes one result file")
    published = runs[0]
    used = []
    rows = []
    for topic, what, result in reliability_rows(published["figures"]):
        run = published["figures"][topic].get("run")
        if run not in published["runs"]:
            raise Problem(f"{paths[0]}: {topic} names run {run!r}, which is not in its runs")
        if run not in used:
            used.append(run)
        rows.append(f"| {what} | {result} [{used.index(run) + 1}] |")
    lines = [f"File: `{paths[0]}`. Runs:", ""]
    for number, run_id in enumerate(used, 1):
        run = published["runs"][run_id]
        source = f" {run['transcribed']}" if run.get("transcribed") else ""
        lines.append(f"{number}. {run['date']}, `{run['command']}`, on {run['machine']}; {run['engine']}; "
                     f"{run['images']}.{source}")
    return lines + ["", "| what | result [run] |", "|---|---|"] + rows


RENDERERS = {"runs": render_runs, "summary": render_summary, "timeline": render_timeline, "swarm": render_swarm,
             "reliability": render_reliability, "upgrade": render_upgrade}


# --- Blocks ----------------------------------------------------------------------


def render_block(kind: str, files: str) -> str:
    paths = files.split()
    if kind not in RENDERERS:
        raise Problem(f"unknown kind of generated block {kind!r} (known: {', '.join(RENDERERS)})")
    try:
        lines = RENDERERS[kind]([load(path) for path in paths], paths)
    except (KeyError, TypeError, IndexError) as exc:
        raise Problem(f"{' '.join(paths)}: a field is missing or of the wrong kind: {exc!r}") from None
    return "\n".join(lines) + "\n"


def regenerate(text: str) -> str:
    return BLOCK.sub(lambda m: m["open"] + render_block(m["kind"], m["files"]) + m["close"], text)


def documents() -> dict[str, tuple[str, str]]:
    """Path -> (text now, text as generated) of every document with a block."""
    found = {}
    for path in DOCUMENTS:
        file = ROOT / path
        if file.is_file():
            text = file.read_text(encoding="utf-8")
            if BLOCK.search(text):
                found[path] = (text, regenerate(text))
    return found


def write_atomically(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False,
                                     encoding="utf-8") as out:
        out.write(text)
    os.chmod(out.name, 0o644)
    os.replace(out.name, path)


# --- Publishing the reliability layer's last run ------------------------------------


def publish_reliability() -> None:
    """The topics of the last run replace theirs in the published file, each
    tagged with that run; topics the run did not measure keep their run."""
    try:
        report = json.loads(RELIABILITY_REPORT.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Problem(f"{RELIABILITY_REPORT.relative_to(ROOT)} does not exist: run the reliability layer first "
                      "(./tests/run.sh -m reliability)") from None
    if not report.get("machine"):
        raise Problem(f"{RELIABILITY_REPORT.relative_to(ROOT)} does not say what it ran on: run the layer again")
    published = json.loads(RELIABILITY_PUBLISHED.read_text(encoding="utf-8")) if RELIABILITY_PUBLISHED.is_file() \
        else {"runs": {}, "figures": {}}
    run_id = report["run"]
    published["runs"][run_id] = {key: report[key] for key in ("date", "command", "machine", "engine", "images")}
    for topic, values in report.items():
        if isinstance(values, dict) and topic != "machine":
            published["figures"][topic] = {**values, "run": run_id}
    in_use = {values["run"] for values in published["figures"].values()}
    published["runs"] = {key: value for key, value in published["runs"].items() if key in in_use}
    RELIABILITY_PUBLISHED.parent.mkdir(exist_ok=True)
    write_atomically(RELIABILITY_PUBLISHED, json.dumps(published, indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="docs/generate.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a block differs")
    parser.add_argument("--publish-reliability", action="store_true",
                        help="take the reliability layer's last run into tests/reliability/results/published.json")
    args = parser.parse_args(argv)
    try:
        if args.publish_reliability:
            if args.check:
                parser.error("--check and --publish-reliability do not go together")
            publish_reliability()
        stale = []
        for path, (now, generated) in documents().items():
            if now == generated:
                continue
            if args.check:
                stale.append(path)
                sys.stdout.writelines(difflib.unified_diff(
                    now.splitlines(True), generated.splitlines(True), f"{path} (now)", f"{path} (generated)"))
            else:
                write_atomically(ROOT / path, generated)
                print(f"rewrote the generated blocks of {path}")
    except Problem as exc:
        print(f"docs/generate.py: error: {exc}", file=sys.stderr)
        return 1
    if stale:
        print(f"docs/generate.py: error: generated blocks differ from their result files in {', '.join(stale)}; "
              "run python3 docs/generate.py (and do not edit between the markers)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

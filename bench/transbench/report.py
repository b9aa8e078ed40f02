"""The report: the markdown table, the start timeline and the notes under them."""

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


def build_rows(results: Results, settings: Settings) -> list[list[str]]:
    rows: list[list[str]] = []

    def section(title: str) -> None:
        rows.append([f"**{title}**", "", "", "", "", ""])

    def start_rows(label: str, runs: list[StartRun], gap_label: str | None) -> None:
        measured = [r for r in runs if r.kind == SCRIPTS]
        baseline = [r for r in runs if r.kind == BASELINE]
        m = [r.seconds for r in measured]
        b = [r.seconds for r in baseline]
        ratio = paired_ratio(m, b)
        rows.append([label, summary(m, fmt_seconds), summary(b, fmt_seconds), fmt_ratio(ratio),
                     f"ratio ≤ {START_RATIO_TARGET:.2f}", met(None if ratio is None else ratio <= START_RATIO_TARGET)])
        fm = [r.timeline.get("floor") for r in measured]
        fb = [r.timeline.get("floor") for r in baseline]
        rows.append(["… floor: the services' own start, no probe or poll latency", summary(fm, fmt_seconds),
                     summary(fb, fmt_seconds), fmt_ratio(paired_ratio(fm, fb)), "", "—"])
        if gap_label:
            gm = [r.timeline.get("gap_ready_to_langfuse_started") for r in measured]
            gb = [r.timeline.get("gap_ready_to_langfuse_started") for r in baseline]
            gm_ok = [g for g in gm if g is not None]
            rows.append([gap_label, summary(gm, fmt_seconds), summary(gb, fmt_seconds),
                         fmt_ratio(paired_ratio(gm, gb)), f"≤ {GAP_TARGET_S:.0f} s",
                         met(median(gm_ok) <= GAP_TARGET_S if gm_ok else None)])

    starts = results.starts
    section("Cold start: empty volumes/ → every service healthy")
    start_rows("`start.sh` vs `docker compose up -d --wait`", starts.get("cold", []),
               "postgres ready → langfuse started")
    section("Warm start: data kept, containers removed by stop.sh")
    warm = starts.get("warm", [])
    start_rows("`start.sh` vs `docker compose up -d --wait`", [r for r in warm if r.rows == 0],
               "postgres ready → langfuse started")

    section("Health check on a healthy stack")
    health0 = results.health.get(0)
    if health0:
        hm, hb = health0[SCRIPTS], health0[BASELINE]
        rows.append(["`health-check.sh` vs `docker compose ps`", summary(hm, fmt_seconds), summary(hb, fmt_seconds),
                     fmt_ratio(paired_ratio(hm, hb)), f"median < {HEALTH_CHECK_TARGET_S:.0f} s",
                     met(median(hm) < HEALTH_CHECK_TARGET_S)])

    if results.idle:
        section(f"Idle cost over {settings.idle_window:.0f} s at rest, CPU in % of one core "
                f"(baseline: the same stack with healthchecks off)")
        on = [r["healthchecks"]["rates"] for r in results.idle]
        off = [r["no_healthchecks"]["rates"] for r in results.idle]

        def containers(rates):
            return sum(rates[s] for s in SERVICES)

        def engine(rates):
            return rates["dockerd"] + rates["containerd"] + rates["shims"]

        probes_in = [containers(a) - containers(b) for a, b in zip(on, off)]
        probes_engine = [engine(a) - engine(b) for a, b in zip(on, off)]
        probes = [x + y for x, y in zip(probes_in, probes_engine)]
        services = [containers(b) for b in off]
        whole = [s + p for s, p in zip(services, probes)]
        rows.append(["CPU, whole stack (services + healthchecks)", summary(whole, fmt_cpu),
                     summary(services, fmt_cpu), fmt_ratio(paired_ratio(whole, services)), "", "—"])
        for service in SERVICES:
            rows.append([f"… {service} container (with its probes)", summary([r[service] for r in on], fmt_cpu),
                         summary([r[service] for r in off], fmt_cpu),
                         fmt_ratio(paired_ratio([r[service] for r in on], [r[service] for r in off])), "", "—"])
        rows.append(["CPU, healthchecks together (on − off)", summary(probes, fmt_cpu), "0 (off)", "",
                     f"< {HEALTHCHECK_CPU_TARGET * 100:.0f} %",
                     met(median(probes) < HEALTHCHECK_CPU_TARGET)])
        intervals = results.idle[0]["healthchecks"]["probe_intervals"]
        per_second = sum(1 / i for i in intervals.values() if i)
        if per_second:
            rows.append([f"… per probe ({per_second * 60:.0f} probes a minute: "
                         + ", ".join(f"{s} every {intervals[s]:g} s" for s in SERVICES if intervals[s]) + ")",
                         summary([p / per_second for p in probes], fmt_seconds) + " of CPU", "", "", "", "—"])
        rows.append(["… of which the probe commands in the containers", summary(probes_in, fmt_cpu), "", "", "", "—"])
        rows.append(["… of which dockerd, containerd, shims and runc", summary(probes_engine, fmt_cpu), "", "", "", "—"])
        for service in SERVICES:
            mem_on = [r["healthchecks"]["memory"][service] for r in results.idle]
            mem_off = [r["no_healthchecks"]["memory"][service] for r in results.idle]
            rows.append([f"memory, {service}", summary(mem_on, fmt_mib), summary(mem_off, fmt_mib),
                         fmt_ratio(paired_ratio(mem_on, mem_off)), "", "—"])

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
                         met(None if ratio is None else ratio <= START_RATIO_TARGET)])
        health = results.health.get(count)
        if health:
            hm, hb = health[SCRIPTS], health[BASELINE]
            rows.append([f"`health-check.sh`, {label} rows", summary(hm, fmt_seconds), summary(hb, fmt_seconds),
                         fmt_ratio(paired_ratio(hm, hb)), f"median < {HEALTH_CHECK_TARGET_S:.0f} s",
                         met(median(hm) < HEALTH_CHECK_TARGET_S)])
    return rows


TIMELINE_ROWS = (
    ("postgres_started", "postgres container started"),
    ("postgres_ready", "postgres ready (its log)"),
    ("postgres_healthy", "postgres healthy (first passing probe)"),
    ("langfuse_started", "langfuse container started"),
    ("langfuse_ready", "langfuse ready (its log)"),
    ("langfuse_healthy", "langfuse healthy"),
    ("redis_healthy", "redis healthy"),
    ("all_healthy", "every service healthy"),
    ("returned", "command returned"),
    ("tail_after_healthy", "… of which after every service was healthy"),
    ("floor", "floor (services' own start)"),
)


def timeline_table(results: Results) -> list[str]:
    """Where the start time goes: medians, in seconds after the command began."""
    columns = []
    for phase in ("cold", "warm"):
        for kind in (SCRIPTS, BASELINE):
            runs = [r for r in results.starts.get(phase, []) if r.kind == kind and r.rows in (0,)]
            columns.append((f"{phase}, {'start.sh' if kind == SCRIPTS else 'compose --wait'}", runs))
    lines = ["| seconds after launch (median) | " + " | ".join(name for name, _ in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for key, label in TIMELINE_ROWS:
        cells = []
        for _, runs in columns:
            values = [r.timeline.get(key) for r in runs if r.timeline.get(key) is not None]
            cells.append(f"{median(values):.2f}" if values else "n/a")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def interval_text(results: Results) -> str:
    """The healthcheck intervals the run saw, e.g. "postgres 2 s, langfuse 3 s"."""
    intervals = results.idle[0]["healthchecks"]["probe_intervals"] if results.idle else {}
    known = [f"{service} {intervals[service]:g} s" for service in SERVICES if intervals.get(service)]
    return ", ".join(known) if known else "see docker-compose.yml"


def render(results: Results, settings: Settings, info: dict[str, str], meta: dict[str, str]) -> str:
    rows = build_rows(results, settings)
    header = ["measurement", "scripts (median)", "baseline (median)", "ratio", "target", "met?"]
    lines = [
        "# TransBot stack benchmark",
        "",
        f"- **Run:** {meta['date']}, {meta['mode']}, took {meta['duration']}; images: {meta['images']}.",
        f"- **Machine:** {info['cpu']}, {info['memory']} RAM; {info['os']}; {info['docker']}; "
        f"{info['compose']}; {info['python']}.",
        f"- **Engine load:** {meta['load']}",
        "",
        "| " + " | ".join(header) + " |",
        "|---|---|---|---:|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "Where the start time goes:", ""]
    lines += timeline_table(results)
    floor = median(results.bash_floor) if results.bash_floor else None
    lines += [
        "",
        "How to read it:",
        "",
        "- *scripts* runs `./scripts/*.sh` (Compose v2 through `COMPOSE_COMMAND`); *baseline* runs raw "
        "`docker compose --project-name P --env-file .env.infra …` on the same repository copy, files and ports. "
        "Cells show the median and [min–max]; *ratio* is the median of per-round ratios, and each round runs "
        "both back to back, alternating which goes first, so drift cancels.",
        "- Cold runs start from no containers, no network and no `volumes/postgres` or `volumes/redis` "
        "(`.env.infra` exists); warm runs from what `stop.sh` leaves (containers removed, data kept).",
        "- *postgres ready* is its log line \"ready to accept connections\"; *healthy* is Docker's first "
        "passing probe (`docker events`); *langfuse started* is its `State.StartedAt`. The floor is when every "
        "service would be ready by its own log if langfuse had started the moment postgres was ready: no start "
        "can beat it. The gap above it is Docker's first probe, which runs one `interval` after the container "
        f"starts ({interval_text(results)}), Compose's reaction to `healthy`, and, for `start.sh`, "
        "its health poll (every 0.25 s) and the client probes it runs after Docker says healthy.",
        "- Health check: `health-check.sh` runs a client probe per service (`docker exec psql`, "
        "`docker exec redis-cli`, HTTP) in parallel, so it is bounded by the slowest `docker exec` "
        "(tens to hundreds of ms each); `docker compose ps` only asks the engine.",
        f"- Idle CPU is read from each container's cgroup (cpuacct on cgroup v1, cpu.stat on v2) and from "
        f"/proc for dockerd, containerd and the containers' shims (whose child time includes `runc exec`), "
        f"sampled every {settings.idle_step:g} s over {settings.idle_window:g} s after {settings.idle_settle:g} s "
        f"of rest; a rate is the median of the sub-windows ({settings.idle_rounds} round(s), each a fresh start "
        f"with healthchecks on, then off). On cgroup v1 a probe runs inside the container's cgroup, so the "
        f"healthcheck cost is the difference between the two configurations: in the containers plus in the "
        f"engine. The engine is shared, so its share is the noisiest figure. Memory is the working set "
        f"(usage minus inactive page cache) at the end of the window.",
        f"- Script overhead is measured in a pristine clone (no `.env.infra`), {settings.overhead_runs} runs "
        f"each after one warm-up; the floor is bash itself: `bash -c :` takes {fmt_seconds(floor)}. The "
        f"baseline is Compose's own `--help` and unknown-option error. `psql.sh` and `redis-cli.sh` pass "
        f"options through to psql and redis-cli, so they have no usage error.",
        "- Growth inserts `transbot.users` then `transbot.translations` rows with `INSERT … SELECT "
        "generate_series` through psycopg, runs ANALYZE and CHECKPOINT, then repeats the warm start and health "
        "check. PostgreSQL's start does not read table data after a clean shutdown, so neither should grow.",
    ]
    if results.idle:
        on = [r["healthchecks"]["rates"] for r in results.idle]
        off = [r["no_healthchecks"]["rates"] for r in results.idle]
        inside = median([sum(a[s] for s in SERVICES) - sum(b[s] for s in SERVICES) for a, b in zip(on, off)])
        verdict = ("exceeds the healthcheck target on its own, whatever the engine's share"
                   if inside >= HEALTHCHECK_CPU_TARGET else "is within the healthcheck target")
        lines.append(f"- The healthchecks' cost inside the containers alone ({fmt_cpu(inside)} of one core, "
                     f"the quiet part of the measurement) {verdict}.")
    if results.retries:
        lines.append(f"- {len(results.retries)} measurement(s) failed and were taken again: "
                     + "; ".join(results.retries))
    if meta.get("standins"):
        lines.append(
            "- These figures come from the offline stand-in images, not the official ones: start times and memory "
            "are the stand-ins' (their langfuse is a small Python server, not Next.js with ~270 Prisma "
            "migrations), so absolute times and memory understate the official stack. What the scripts add, "
            "the healthchecks' cost per probe and the Compose reaction times do not depend on the images.")
    lines.append("")
    return "\n".join(lines)


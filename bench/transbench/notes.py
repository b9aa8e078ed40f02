"""The whole markdown: the header lines, the main table, where the start time
goes, and the notes that say how to read them."""

from __future__ import annotations

from support.stack import SERVICES

from .common import BASELINE, HEALTHCHECK_CPU_TARGET, SCRIPTS, fmt_cpu, fmt_seconds, median
from .phases import Results
from .report import HEADER, build_rows, idle_figures
from .settings import Settings

TIMELINE_ROWS = (
    ("postgres_started", "postgres container started"),
    ("postgres_ready", "postgres ready (its log)"),
    ("postgres_healthy", "postgres healthy (first passing probe)"),
    ("langfuse_started", "langfuse container started"),
    ("langfuse_ready", "langfuse ready (its log)"),
    ("langfuse_healthy", "langfuse healthy"),
    ("redis_ready", "redis ready (its log)"),
    ("redis_healthy", "redis healthy"),
    ("last_ready", "last service ready (its log)"),
    ("all_healthy", "every service healthy"),
    ("returned", "command returned"),
    ("tail_after_ready", "… of which after the last service was ready"),
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
    """The probe schedule the run saw, e.g. "postgres 2 s" on the portable
    path, "postgres every 0.25 s while starting, then 60 s" on the fast one."""
    window = results.idle[0]["healthchecks"] if results.idle else {}
    intervals = window.get("probe_intervals", {})
    starting = window.get("start_intervals", {})
    known = []
    for service in SERVICES:
        if not intervals.get(service):
            continue
        if starting.get(service):
            known.append(f"{service} every {starting[service]:g} s while starting, then every "
                         f"{intervals[service]:g} s")
        else:
            known.append(f"{service} every {intervals[service]:g} s")
    return ", ".join(known) if known else "see docker-compose.yml"


def context_text(info: dict[str, str], meta: dict) -> str:
    """What the table's figures were measured on, for its first row."""
    images = "offline stand-in images, not the official ones" if meta.get("standins") else "official images"
    engine = info["docker"].split(" (")[0]
    api = f", API {meta['api']}" if meta.get("api") else ""
    return f"{images}; {meta.get('path', 'portable')} path; {engine}{api}"


def render(results: Results, settings: Settings, info: dict[str, str], meta: dict) -> str:
    rows = build_rows(results, settings, context_text(info, meta), bool(meta.get("standins")))
    lines = [
        "# TransBot stack benchmark",
        "",
        f"- **Run:** {meta['date']}, {meta['mode']}, took {meta['duration']}; images: {meta['images']}.",
        f"- **Path:** {meta.get('path_text', 'portable: docker-compose.yml and its override')}.",
        f"- **Machine:** {info['cpu']}, {info['memory']} RAM; {info['os']}; {info['docker']}; "
        f"{info['compose']}; {info['python']}.",
        f"- **Engine load:** {meta['load']}",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|---|---|---|---:|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "Where the start time goes:", ""]
    lines += timeline_table(results)
    lines += ["", "How to read it:", ""]
    lines += [f"- {note}" for note in notes(results, settings, meta)]
    lines.append("")
    return "\n".join(lines)


def notes(results: Results, settings: Settings, meta: dict) -> list[str]:
    floor = median(results.bash_floor) if results.bash_floor else None
    found = [
        "*scripts* runs `./scripts/*.sh` (Compose v2 through `COMPOSE_COMMAND`); *baseline* runs raw "
        "`docker compose --project-name P --env-file .env.infra -f …` with the same compose files the scripts "
        "pass on this path (see *Path* above), on the same repository copy and ports. Cells show the median and "
        "[min–max]; *ratio* is the median of per-round ratios, and each round runs both back to back, "
        "alternating which goes first, so drift cancels. Every start is checked to have run the path measured "
        "(on the fast path each container has a healthcheck start interval, on the portable path none has).",
        "Cold runs start from no containers, no network and no `volumes/postgres` or `volumes/redis` "
        "(`.env.infra` exists); warm runs from what `stop.sh` leaves (containers removed, data kept).",
        "*postgres ready* is its log line \"ready to accept connections\" (each service's *ready* is its own "
        "log line); *healthy* is Docker's first passing probe (`docker events`); *langfuse started* is its "
        "`State.StartedAt`. The floor is when every service would be ready by its own log if langfuse had "
        "started the moment postgres was ready: no start can beat it. The gap above it is Docker's first "
        f"passing probe ({interval_text(results)}), Compose's reaction to `healthy`, and, for `start.sh`, its "
        "wait (which looks again at each health event of the engine) and the client probes it runs after Docker says healthy. *Last service "
        "ready → command returned* is all of that after the last service said it was ready.",
        "Health check: `health-check.sh` runs a client probe per service (`docker exec psql`, "
        "`docker exec redis-cli`, HTTP) in parallel, so it is bounded by the slowest `docker exec` "
        "(tens to hundreds of ms each); `docker compose ps` only asks the engine.",
        f"Idle CPU is read from each container's cgroup (cpuacct on cgroup v1, cpu.stat on v2) and from "
        f"/proc for dockerd, containerd and the containers' shims (whose child time includes `runc exec`; "
        f"dockerd and containerd only when they share the benchmark's network namespace, i.e. the engine "
        f"measured), sampled every {settings.idle_step:g} s over {settings.idle_window:g} s after "
        f"{settings.idle_settle:g} s of rest ({settings.idle_rounds} round(s), each a fresh start with "
        f"healthchecks on, then off). The figures and the target are over the whole window, every probe "
        f"and burst included; the median of the slices is shown beside them: it drops bursts, which on a "
        f"shared engine are often someone else's, but it also drops probes that run less often than a "
        f"slice is long (the fast path's 60 s interval), so it is no measure of the healthchecks there. "
        f"On cgroup v1 a probe runs inside the container's cgroup, so the healthcheck cost is the "
        f"difference between the two configurations: in the containers plus in the engine. The engine is "
        f"shared, so its share is the noisiest figure; the machine's CPU over the same windows (every "
        f"process) says how busy it was. Probes are counted from Docker's health log where it kept them "
        f"all. Memory is the working set (usage minus inactive page cache) at the end of the window.",
        f"Script overhead is measured in a pristine clone (no `.env.infra`), {settings.overhead_runs} runs "
        f"each after one warm-up; the floor is bash itself: `bash -c :` takes {fmt_seconds(floor)}. The "
        f"baseline is Compose's own `--help` and unknown-option error. `psql.sh` and `redis-cli.sh` pass "
        f"options through to psql and redis-cli, so they have no usage error.",
        "Growth inserts `transbot.users` then `transbot.translations` rows with `INSERT … SELECT "
        "generate_series` through psycopg, runs ANALYZE and CHECKPOINT, then repeats the warm start and health "
        "check. PostgreSQL's start does not read table data after a clean shutdown, so neither should grow.",
    ]
    if results.idle:
        inside = median(idle_figures(results, "window_averages")["probes_in"])
        verdict = ("exceeds the healthcheck target on its own, whatever the engine's share"
                   if inside >= HEALTHCHECK_CPU_TARGET else "is within the healthcheck target")
        found.append(f"The healthchecks' cost inside the containers alone ({fmt_cpu(inside)} of one core over "
                     f"the whole window, the quiet part of the measurement) {verdict}.")
    if results.retries:
        found.append(f"{len(results.retries)} measurement(s) failed and were taken again: "
                     + "; ".join(results.retries))
    if meta.get("standins"):
        found.append(
            "These figures come from the offline stand-in images, not the official ones (the *met?* cells say "
            "so): start times and memory are the stand-ins' (their langfuse is a small Python server, not "
            "Next.js with ~270 Prisma migrations), so absolute times and memory understate the official stack. "
            "What the scripts add, the healthchecks' cost per probe and the Compose reaction times depend "
            "little on the images.")
    return found

"""The upgrade benchmark (issue 22, item 6): `./scripts/upgrade-postgres.sh`
(PostgreSQL 15 → 17) against the same upgrade by hand (`pg_dumpall |
psql` into a second server), on two throw-away stacks holding the same
data, in the same run; total time and downtime of each, the downtime
measured from outside by a client asking every 100 ms (downtime.py).

    ./bench/upgrade.sh                # 3 rounds, 1,000,000 translation rows
    ./bench/upgrade.sh --quick        # 1 round, 10,000 rows
    ./bench/upgrade.sh --publish upgrade-engine26

Method, definitions and bounds: bench/README.md, "Upgrade and update
downtime". The second half of the item, in the same run: the downtime of
each service while `update-images.sh` recreates it on a second build pushed
under the same tag to a registry on loopback (stand-in images only).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from support import clients
from support.engine import STANDIN_POSTGRES_17, STANDIN_SECOND_BUILDS, Compose, run, test_images
from support.registry import LocalRegistry, local_registry
from support.stack import SERVICES, Stack, force_rmtree

from . import publish as bench_publish
from .common import BENCH_DIR, REPO_ROOT, BenchError, fmt_ratio, fmt_seconds, log, median, paired_ratio, \
    require_ok, summary, write_published_file
from .compose_path import choose
from .downtime import measure, measure_each
from .machine import image_mode, load_average, machine, other_containers
from .phases import Bench
from .settings import Settings
from .stacks import engine_with_compose_v2, langfuse_answers, remove_stale_stacks

OURS = "script"
BY_HAND = "by_hand"
KINDS = (OURS, BY_HAND)
# Markdown table cells: the pipe escaped.
LABELS = {OURS: "`upgrade-postgres.sh`", BY_HAND: "by hand (`pg_dumpall \\| psql`)"}
DEFAULT_OUTPUT = BENCH_DIR / "results" / "upgrade-latest.md"
# The target major's image when the run uses the official images.
OFFICIAL_POSTGRES_17 = "postgres:17-alpine"
# The update: the tags the stack pulls from the loopback registry, named
# as the official ones, and the settings that name them.
UPDATE_TAGS = {"postgres": "bench/postgres:15-alpine", "langfuse": "bench/langfuse:2", "redis": "bench/redis:7-alpine"}
UPDATE_SETTINGS = {"postgres": "POSTGRES_IMAGE", "langfuse": "LANGFUSE_IMAGE", "redis": "REDIS_IMAGE"}
REDIS_KEY, REDIS_VALUE = "bench:update", "kept"


@dataclass
class UpgradeSettings:
    repeat: int
    rows: int
    quick: bool
    output: Path
    publish: str | None = None
    from_json: Path | None = None


@dataclass
class UpgradeResults:
    # kind -> one dict per round: seconds, downtime_s, unavailable_s, spacing_s, failed, probes
    rounds: dict[str, list[dict]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    database_bytes: int | None = None
    load_seconds: float | None = None
    retries: list[str] = field(default_factory=list)
    # update-images.sh, one dict per round: seconds, and service -> outage figures
    update: list[dict] = field(default_factory=list)
    # Why the update was not measured (official images have no second build).
    update_skipped: str | None = None


def parse_args(argv: list[str]) -> UpgradeSettings:
    parser = argparse.ArgumentParser(
        prog="bench/upgrade.sh",
        description="Times upgrade-postgres.sh (15 -> 17) and its downtime against the same upgrade by hand.")
    parser.add_argument("--repeat", type=int, default=None, metavar="N",
                        help="upgrades of each kind, alternating (default 3; 1 with --quick)")
    parser.add_argument("--rows", type=str, default=None, metavar="N",
                        help="translation rows in each database (default 1000000; 10000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="1 round on 10,000 rows")
    parser.add_argument("--publish", default=None, metavar="NAME",
                        help="also write bench/results/NAME.json, the figures docs/performance.md shows")
    parser.add_argument("--from-json", type=Path, default=None, metavar="FILE",
                        help="measure nothing: render the table (and --publish) again from a run's .json")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="FILE",
                        help=f"where to write the markdown (default {DEFAULT_OUTPUT.relative_to(REPO_ROOT)}); "
                             "the raw samples go next to it as .json")
    args = parser.parse_args(argv)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    rows_text = args.rows if args.rows is not None else ("10000" if args.quick else "1000000")
    try:
        rows = int(rows_text.replace("_", ""))
    except ValueError:
        parser.error(f"--rows takes a whole number, not {rows_text!r}")
    if rows < 1:
        parser.error("--rows must be at least 1")
    if args.publish is not None:
        problem = bench_publish.name_problem(args.publish)
        if not problem and args.publish.endswith("latest"):
            problem = f"--publish takes a name that does not end in 'latest' (a run's own output): {args.publish!r}"
        if problem:
            parser.error(problem)
    output = args.output if args.output.is_absolute() else Path.cwd() / args.output
    return UpgradeSettings(repeat=repeat, rows=rows, quick=args.quick, output=output, publish=args.publish,
                           from_json=args.from_json)


# --- What a client sees ----------------------------------------------------------


def data_of(stack: Stack) -> tuple:
    """What TransBot reads, through the published port with the app's
    password: its users and its newest translation (an index look-up)."""
    import psycopg

    values = stack.env_file()
    with psycopg.connect(host="127.0.0.1", port=stack.ports["postgres"], user=values["POSTGRES_USER"],
                         password=values["POSTGRES_PASSWORD"], dbname=values["POSTGRES_DB"], connect_timeout=2,
                         options="-c statement_timeout=2000") as conn:
        return conn.execute("SELECT (SELECT count(*) FROM transbot.users),"
                            " (SELECT max(id) FROM transbot.translations)").fetchone()


def answers_with(stack: Stack, expected: tuple):
    """The probe: True when the server answers with the data as it was (a
    server being restored answers, but without it)."""
    def check() -> bool:
        return data_of(stack) == expected
    return check


def redis_keeps(stack: Stack):
    """Redis's probe: a new client reads back the key written before."""
    def check() -> bool:
        cache = clients.redis_client(stack)
        cache.connection_pool.connection_kwargs.update(socket_timeout=2, socket_connect_timeout=2)
        try:
            return cache.get(REDIS_KEY) == REDIS_VALUE
        finally:
            cache.close()
    return check


# --- The upgrade benchmark -------------------------------------------------------------


def set_env_value(stack: Stack, key: str, value: str) -> None:
    """Replaces KEY's line of .env.infra, as a person editing it would."""
    path = stack.root / ".env.infra"
    text, count = re.subn(rf"^{key}=.*$", f"{key}={value}", path.read_text(), flags=re.M)
    if count == 0:
        text = text.rstrip("\n") + f"\n{key}={value}\n"
    path.write_text(text)


class UpgradeBench(Bench):
    """Two stacks on the 15 image with the same data; on one the script
    upgrades, on the other a person does, round after round (each put back
    on 15 between rounds)."""

    def __init__(self, settings: UpgradeSettings, compose: Compose, images: dict[str, str], path, target: str):
        # Bench's stacks and its row loader; the start/idle settings are unused.
        super().__init__(Settings(repeat=settings.repeat, quick=settings.quick, idle_window=2, idle_rounds=0,
                                  idle_settle=0, idle_step=1, fast_runs=0, overhead_runs=0,
                                  row_counts=[0, settings.rows], output=settings.output), compose, images, path)
        self.upgrade_settings = settings
        self.target = target
        self.upgrade_results = UpgradeResults()
        self.helpers: list[str] = []  # the by-hand second servers (container names)
        self.traces: dict[str, str] = {}  # project -> a Langfuse trace id

    def cleanup(self) -> None:
        for name in self.helpers:
            run(["docker", "rm", "-f", "-v", name], timeout=120)
        # The tags update-images.sh kept the previous images under, one per project.
        for stack in self.stacks:
            listed = run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                          "--filter", f"reference=transbot-previous/*:{stack.project}"])
            for reference in listed.stdout.split():
                run(["docker", "image", "rm", reference], timeout=120)
        super().cleanup()

    def stack_on_image_setting(self) -> Stack:
        """A stack whose postgres image is .env.infra's POSTGRES_IMAGE, as a
        user's is (the test override would otherwise pin it)."""
        stack = self.new_stack()
        lines = ["services:"]
        for service in ("langfuse", "redis"):
            lines += [f"  {service}:", f"    image: {self.images[service]}"]
        (stack.root / "docker-compose.override.yml").write_text("\n".join(lines) + "\n")
        set_env_value(stack, "POSTGRES_IMAGE", self.images["postgres"])
        require_ok("start.sh", stack.script("start.sh"))
        return stack

    def fill(self, stack: Stack) -> None:
        from e2e.common import add_trace

        self.grow(stack, self.upgrade_settings.rows)
        growth = self.results.growth[self.upgrade_settings.rows]
        self.upgrade_results.database_bytes = growth["database_bytes"]
        self.upgrade_results.load_seconds = growth["insert_seconds"]
        self.traces[stack.project] = add_trace(stack, "upgrade benchmark")

    def check_after(self, stack: Stack, expected: tuple, major: str) -> None:
        """Both ways must leave the same data on the new major, Langfuse's trace included."""
        from e2e.common import trace_status

        server = self.psql(stack, "postgres", "SHOW server_version_num")[:2]
        if server != major:
            raise BenchError(f"{stack.project}: the server is PostgreSQL {server}, expected {major}")
        if data_of(stack) != expected:
            raise BenchError(f"{stack.project}: the data after the upgrade differs: {data_of(stack)} != {expected}")
        count = self.psql(stack, "postgres", "SELECT count(*) FROM transbot.translations")
        if int(count) != self.upgrade_settings.rows:
            raise BenchError(f"{stack.project}: {count} translation rows after the upgrade")
        if trace_status(stack, self.traces[stack.project]) != 200:
            raise BenchError(f"{stack.project}: Langfuse no longer serves its trace after the upgrade")

    @staticmethod
    def psql(stack: Stack, service_or_container: str, sql: str, database: str | None = None) -> str:
        values = stack.env_file()
        container = stack.container(service_or_container) if service_or_container == "postgres" \
            else service_or_container
        done = run(["docker", "exec", container, "psql", "-v", "ON_ERROR_STOP=1", "-XAtq", "-U",
                    values["POSTGRES_USER"], "-d", database or values["POSTGRES_DB"], "-c", sql], timeout=600)
        require_ok(f"psql {sql!r}", done)
        return done.stdout.strip()

    # --- Our path ------------------------------------------------------------------

    def ours(self, stack: Stack) -> None:
        result = stack.script("upgrade-postgres.sh", self.target, "--yes", timeout=3600)
        require_ok("upgrade-postgres.sh", result)

    def put_back_ours(self, stack: Stack) -> None:
        require_ok("upgrade-postgres.sh --revert", stack.script("upgrade-postgres.sh", "--revert", "--yes",
                                                                timeout=900))
        require_ok("upgrade-postgres.sh --discard-old", stack.script("upgrade-postgres.sh", "--discard-old",
                                                                     "--yes", timeout=900))
        force_rmtree(stack.root / "backups", helper_image=self.images["postgres"])

    # --- By hand ---------------------------------------------------------------------

    def by_hand(self, stack: Stack) -> None:
        """What a careful person types: stop the app side, a second server
        on a new data folder (the same superuser, database and password),
        pg_dumpall from the old one piped into it, a count on both, stop,
        swap the folders, set the image, start."""
        root, values = stack.root, stack.env_file()
        volumes = root / "volumes"
        new_folder, old_folder = volumes / "postgres.17-new", volumes / "postgres.15-old"
        helper = f"{stack.project}-by-hand-postgres17"
        env = {**stack.env(), "PGUSER": values["POSTGRES_USER"], "POSTGRES_USER": values["POSTGRES_USER"],
               "POSTGRES_PASSWORD": values["POSTGRES_PASSWORD"], "POSTGRES_DB": values["POSTGRES_DB"]}
        # 1. The app side stops: nothing writes during the dump.
        require_ok("docker compose stop langfuse", stack.compose_cli("stop", "langfuse"))
        # 2. The new server, initialised on an empty folder. Without the init
        #    files: pg_dumpall brings the roles, Langfuse's database and the schema.
        new_folder.mkdir()
        self.helpers.append(helper)
        require_ok("docker run (the 17 server)", run(
            ["docker", "run", "-d", "--name", helper, "-e", "POSTGRES_USER", "-e", "POSTGRES_PASSWORD",
             "-e", "POSTGRES_DB", "-v", f"{new_folder}:/var/lib/postgresql/data", self.target], env=env))
        deadline = time.monotonic() + 300
        while run(["docker", "exec", helper, "pg_isready", "-q", "-h", "127.0.0.1", "-U", values["POSTGRES_USER"],
                   "-d", values["POSTGRES_DB"]]).returncode != 0:
            if time.monotonic() > deadline:
                raise BenchError(f"the by-hand PostgreSQL 17 server did not get ready\n"
                                 f"{run(['docker', 'logs', '--tail', '30', helper]).stderr}")
            time.sleep(0.2)
        # 3. The dump, piped. psql goes on past "role/database already exists".
        old = stack.container("postgres")
        piped = subprocess.run(
            ["bash", "-c", 'set -o pipefail; docker exec "$OLD" pg_dumpall -U "$PGUSER" '
                           '| docker exec -i "$NEW" psql -X -q -U "$PGUSER" -d postgres >/dev/null'],
            env={**env, "OLD": old, "NEW": helper}, capture_output=True, text=True, timeout=3600)
        require_ok("pg_dumpall | psql", piped)
        # 4. A count on both sides.
        for sql in ("SELECT count(*) FROM transbot.translations", "SELECT count(*) FROM transbot.users"):
            if self.psql(stack, "postgres", sql) != self.psql(stack, helper, sql):
                raise BenchError(f"by hand: {sql} differs between the old and the new server")
        # 5. Stop both, swap the folders, set the image, start.
        require_ok("docker compose stop", stack.compose_cli("stop", timeout=300))
        require_ok("docker stop (the 17 server)", run(["docker", "stop", helper], timeout=120))
        require_ok("docker rm (the 17 server)", run(["docker", "rm", helper]))
        self.helpers.remove(helper)
        (volumes / "postgres").rename(old_folder)
        new_folder.rename(volumes / "postgres")
        set_env_value(stack, "POSTGRES_IMAGE", self.target)
        require_ok("start.sh", stack.script("start.sh"))

    def put_back_by_hand(self, stack: Stack) -> None:
        volumes = stack.root / "volumes"
        require_ok("stop.sh", stack.script("stop.sh"))
        force_rmtree(volumes / "postgres", helper_image=self.images["postgres"])
        (volumes / "postgres.15-old").rename(volumes / "postgres")
        set_env_value(stack, "POSTGRES_IMAGE", self.images["postgres"])
        require_ok("start.sh", stack.script("start.sh"))

    # --- The run -----------------------------------------------------------------------

    def one(self, kind: str, stack: Stack, expected: tuple, index: int) -> dict:
        action = self.ours if kind == OURS else self.by_hand
        seconds, figures = measure(answers_with(stack, expected), lambda: action(stack))
        self.check_after(stack, expected, self.target_major)
        (self.put_back_ours if kind == OURS else self.put_back_by_hand)(stack)
        self.note_others()
        log(f"upgrade {index + 1}/{self.upgrade_settings.repeat} {kind}: {fmt_seconds(seconds)}, "
            f"downtime {fmt_seconds(figures['downtime_s'])}, unavailable {fmt_seconds(figures['unavailable_s'])} "
            f"({figures['failed']} of {figures['probes']} probes failed)")
        return {"seconds": seconds, **figures}

    def run(self) -> None:
        major = run(["docker", "image", "inspect", "--format",
                     '{{range .Config.Env}}{{println .}}{{end}}', self.target])
        found = re.search(r"^PG_MAJOR=(\d+)", major.stdout, re.M)
        if major.returncode != 0 or not found:
            raise BenchError(f"the target image {self.target} is not here or sets no PG_MAJOR "
                             "(offline: TRANSBOT_TEST_IMAGES=local uses the stand-ins)")
        self.target_major = found.group(1)
        stacks = {}
        for kind in KINDS:
            stacks[kind] = self.stack_on_image_setting()
            log(f"{kind}: stack {stacks[kind].project} in {stacks[kind].root}")
            self.fill(stacks[kind])
        expected = {kind: data_of(stack) for kind, stack in stacks.items()}
        if expected[OURS] != expected[BY_HAND]:
            raise BenchError(f"the two stacks hold different data: {expected}")
        for index in range(self.upgrade_settings.repeat):
            order = KINDS if index % 2 == 0 else KINDS[::-1]
            for kind in order:
                self.upgrade_results.rounds[kind].append(
                    self.one(kind, stacks[kind], expected[kind], index))
        self.upgrade_results.retries = self.results.retries
        if not all(self.images[s] in STANDIN_SECOND_BUILDS for s in SERVICES):
            self.upgrade_results.update_skipped = "needs the stand-ins' second builds (TRANSBOT_TEST_IMAGES=local)"
            log(f"update not measured: {self.upgrade_results.update_skipped}")
            return
        with local_registry() as registry:
            self.updates(registry)

    # --- The update: downtime per service ---------------------------------------------

    def stack_on_registry(self, registry: LocalRegistry) -> Stack:
        """A stack whose three images come from .env.infra and the registry,
        as a user's come from Docker Hub, with the same rows and a Redis key."""
        for service, tag in UPDATE_TAGS.items():
            registry.push(self.images[service], tag)
        stack = self.new_stack()
        (stack.root / "docker-compose.override.yml").unlink()
        for service, setting in UPDATE_SETTINGS.items():
            set_env_value(stack, setting, registry.reference(UPDATE_TAGS[service]))
        require_ok("start.sh", stack.script("start.sh"))
        self.grow(stack, self.upgrade_settings.rows)
        cache = clients.redis_client(stack)
        try:
            cache.set(REDIS_KEY, REDIS_VALUE)
        finally:
            cache.close()
        return stack

    def updates(self, registry: LocalRegistry) -> None:
        """update-images.sh recreating every service on a second build pushed
        under the same tags, each service probed meanwhile; --revert between
        rounds (the tags then point at the first builds again, so the next
        run pulls the second ones anew)."""
        stack = self.stack_on_registry(registry)
        log(f"update: stack {stack.project} in {stack.root}")
        for service, tag in UPDATE_TAGS.items():
            registry.push(STANDIN_SECOND_BUILDS[self.images[service]], tag)
        expected = data_of(stack)
        checks = {"postgres": answers_with(stack, expected), "langfuse": lambda: langfuse_answers(stack),
                  "redis": redis_keeps(stack)}
        for index in range(self.upgrade_settings.repeat):
            def update() -> None:
                result = stack.script("update-images.sh", timeout=1800)
                require_ok("update-images.sh", result)
                if any(f"{service} is up to date" in result.stdout for service in SERVICES):
                    raise BenchError(f"update-images.sh left a service as it was:\n{result.stdout}")
            seconds, found = measure_each(checks, update)
            self.upgrade_results.update.append({"seconds": seconds, **found})
            log(f"update {index + 1}/{self.upgrade_settings.repeat}: {fmt_seconds(seconds)}; downtime "
                + ", ".join(f"{s} {fmt_seconds(found[s]['downtime_s'])}" for s in SERVICES))
            require_ok("update-images.sh --revert", stack.script("update-images.sh", "--revert", timeout=1800))
            self.note_others()


# --- Figures and the table -------------------------------------------------------------


def figures(results: UpgradeResults) -> dict:
    """Medians per kind and the median of the per-round ratios (ours / by hand)."""
    found: dict = {}
    for kind in KINDS:
        rounds = results.rounds[kind]
        if not rounds:
            return {}
        found[kind] = {key: median([r[key] for r in rounds])
                       for key in ("seconds", "downtime_s", "unavailable_s", "spacing_s")}
        found[kind]["failed"] = median([r["failed"] for r in rounds])
    for key in ("seconds", "downtime_s"):
        found.setdefault("ratio", {})[key] = paired_ratio([r[key] for r in results.rounds[OURS]],
                                                          [r[key] for r in results.rounds[BY_HAND]])
    if results.update:
        found["update_s"] = median([r["seconds"] for r in results.update])
        found["update"] = {service: {key: median([r[service][key] for r in results.update])
                                     for key in ("downtime_s", "unavailable_s")}
                           for service in SERVICES}
    return found


def render(results: UpgradeResults, settings: UpgradeSettings, info: dict, meta: dict) -> str:
    ours, hand = results.rounds[OURS], results.rounds[BY_HAND]
    found = figures(results)
    size = f"{results.database_bytes / 2**20:.0f} MiB" if results.database_bytes else "unknown size"
    lines = ["## PostgreSQL 15 → 17 upgrade: `upgrade-postgres.sh` against `pg_dumpall | psql` by hand",
             "",
             f"{settings.rows:,} translation rows and a Langfuse trace in each database ({size}); "
             f"{meta['mode']}; medians [min–max]; {meta['images']}.",
             "",
             f"| measurement | {LABELS[OURS]} | {LABELS[BY_HAND]} | ratio |",
             "|---|---|---|---|"]
    rows = (("total time (command launched → returned)", "seconds"),
            ("downtime (longest time without a right answer)", "downtime_s"),
            ("unavailable (all gaps holding a failed probe)", "unavailable_s"),
            ("probe spacing when up (the resolution)", "spacing_s"))
    for label, key in rows:
        ratio = fmt_ratio(found.get("ratio", {}).get(key)) if key in ("seconds", "downtime_s") else ""
        lines.append(f"| {label} | {summary([r[key] for r in ours], fmt_seconds)} | "
                     f"{summary([r[key] for r in hand], fmt_seconds)} | {ratio} |")
    lines.append(f"| failed probes | {summary([r['failed'] for r in ours], str)} | "
                 f"{summary([r['failed'] for r in hand], str)} | |")
    lines += [""]
    if results.update:
        lines += [f"`update-images.sh` recreating every service on a second build under the same tag: "
                  f"{summary([r['seconds'] for r in results.update], fmt_seconds)} in all.", "",
                  "| service | downtime | unavailable | failed probes |", "|---|---|---|---|"]
        lines += [f"| {service} | {summary([r[service]['downtime_s'] for r in results.update], fmt_seconds)} | "
                  f"{summary([r[service]['unavailable_s'] for r in results.update], fmt_seconds)} | "
                  f"{summary([r[service]['failed'] for r in results.update], str)} |" for service in SERVICES]
    else:
        lines.append(f"The update's downtime per service: not measured ({results.update_skipped or 'no rounds'}).")
    lines += ["",
              f"Machine: {info['cpu']}, {info['memory']} RAM; {info['os']}; {info['docker']}; {info['compose']}.",
              f"Load: {meta['load']}", f"Run: {meta['date']}, {meta['duration']}."]
    if results.retries:
        lines += ["", "Retries:"] + [f"- {line}" for line in results.retries]
    return "\n".join(lines) + "\n"


def command_of(settings: UpgradeSettings) -> str:
    words = ["./bench/upgrade.sh", f"--repeat {settings.repeat}", f"--rows {settings.rows}"]
    if settings.quick:
        words.insert(1, "--quick")
    return " ".join(words)


def published(results: UpgradeResults, settings: UpgradeSettings, info: dict, meta: dict) -> dict:
    engine = info["docker"].split(" (")[0]
    return {
        "label": f"upgrade 15 → 17, {engine}",
        "date": meta["date"],
        "command": command_of(settings),
        "machine": f"{info['cpu']}, {info['memory']} RAM; {info['os']}; {info['python']}",
        "engine": info["docker"],
        "compose": info["compose"],
        "images": meta["images"],
        "load": meta["load"].rstrip("."),  # the generator ends the line
        "rounds": settings.repeat,
        "rows": settings.rows,
        "database_mib": round(results.database_bytes / 2**20) if results.database_bytes else None,
        "figures": figures(results),
    }


def write_published(name: str, results: UpgradeResults, settings: UpgradeSettings, info: dict, meta: dict) -> Path:
    return write_published_file(bench_publish.RESULTS_DIR / f"{name}.json", published(results, settings, info, meta))


def rerender(settings: UpgradeSettings) -> int:
    """The table of an earlier run, from its raw samples (and its published file)."""
    try:
        raw = json.loads(settings.from_json.read_text())
        saved = raw["settings"]
        old = UpgradeSettings(repeat=saved["repeat"], rows=saved["rows"], quick=saved["quick"],
                              output=Path(saved["output"]))
        results = UpgradeResults(rounds=raw["rounds"], database_bytes=raw["database_bytes"],
                                 load_seconds=raw.get("load_seconds"), retries=raw.get("retries", []),
                                 update=raw.get("update", []), update_skipped=raw.get("update_skipped"))
        markdown = render(results, old, raw["machine"], raw["meta"])
    except (OSError, KeyError, TypeError, ValueError) as exc:
        print(f"bench: error: cannot read {settings.from_json}: {exc}", file=sys.stderr)
        return 1
    print(markdown)
    settings.output.parent.mkdir(parents=True, exist_ok=True)
    settings.output.write_text(markdown)
    if settings.publish:
        log(f"wrote {write_published(settings.publish, results, old, raw['machine'], raw['meta'])}")
    return 0


def main(argv: list[str]) -> int:
    settings = parse_args(argv)
    if settings.from_json is not None:
        return rerender(settings)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.time()
    bench = None
    try:
        found = engine_with_compose_v2("the benchmark")
        path = choose(None, found, dict(os.environ))
        remove_stale_stacks()
        images = test_images()
        standins = all(image.startswith("transbot-standin/") for image in images.values())
        info = machine()
        others_before, load_before = other_containers(), load_average()
        bench = UpgradeBench(settings, found, images, path, STANDIN_POSTGRES_17 if standins else OFFICIAL_POSTGRES_17)
        bench.run()
        others_after, load_after = other_containers(), load_average()
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
    meta = {
        "date": datetime.fromtimestamp(started, timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": f"{settings.repeat} round{'s' if settings.repeat > 1 else ''} of each, alternating",
        "duration": f"{(time.time() - started) / 60:.1f} min",
        "images": image_mode(images),
        "load": (f"{others_before} other container(s) on this engine at the start, {others_after} at the end, "
                 f"up to {max(bench.others_seen, others_before, others_after)} between measurements; "
                 f"1-minute load average {load_before} at the start, {load_after} at the end "
                 f"(other work shares the CPUs and dockerd)."),
    }
    markdown = render(bench.upgrade_results, settings, info, meta)
    print(markdown)
    settings.output.parent.mkdir(parents=True, exist_ok=True)
    settings.output.write_text(markdown)
    raw = {"meta": meta, "machine": info,
           "settings": {**vars(settings), "output": str(settings.output), "from_json": None},
           "rounds": bench.upgrade_results.rounds, "database_bytes": bench.upgrade_results.database_bytes,
           "load_seconds": bench.upgrade_results.load_seconds, "retries": bench.upgrade_results.retries,
           "update": bench.upgrade_results.update, "update_skipped": bench.upgrade_results.update_skipped}
    settings.output.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str))
    log(f"wrote {settings.output} and {settings.output.with_suffix('.json').name}")
    if settings.publish:
        log(f"wrote {write_published(settings.publish, bench.upgrade_results, settings, info, meta)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

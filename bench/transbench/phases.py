"""The measurements, in the order a run takes them: script overhead, cold and
warm starts, health checks, the idle cost, and the growth of the database."""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.engine import Compose
from support.stack import SERVICES, Stack, copy_repository

from .common import (
    BASELINE,
    RETRIES,
    SCRIPTS,
    UNKNOWN_OPTION,
    BenchError,
    Unrepeatable,
    fmt_cpu,
    fmt_seconds,
    log,
    median,
    require_ok,
)
from .compose_path import ComposePath
from .idle import measure_idle_window
from .settings import Settings
from .stacks import Stacks, wait_until_answering
from .timeline import StartRun

# An idle window during which everything else on the machine used more than
# this much of one core is taken again (the engine's CPU is shared with it).
QUIET_LIMIT = 0.25


@dataclass
class Results:
    overhead: dict = field(default_factory=dict)
    bash_floor: list[float] = field(default_factory=list)
    starts: dict[str, list[StartRun]] = field(default_factory=dict)  # "cold" / "warm" -> runs
    health: dict[int, dict[str, list[float]]] = field(default_factory=dict)  # rows -> kind -> seconds
    idle: list[dict] = field(default_factory=list)
    growth: dict[int, dict] = field(default_factory=dict)
    retries: list[str] = field(default_factory=list)
    healthy_start: dict[str, list[float]] = field(default_factory=dict)  # kind -> seconds (transbench.healthy)



class Bench(Stacks):
    def __init__(self, settings: Settings, compose: Compose, images: dict[str, str], path: ComposePath):
        super().__init__(compose, images, path)
        self.settings = settings
        self.results = Results()

    def attempt(self, label: str, action):
        """Runs one measurement (its preparation included), again after a failure."""
        for number in range(RETRIES + 1):
            try:
                return action()
            except BenchError as exc:
                if number == RETRIES or isinstance(exc, Unrepeatable):
                    raise
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.results.retries.append(f"{label}: {first_line}")
                log(f"{label} failed, measuring it again: {first_line}")

    # --- Phases ---------------------------------------------------------------

    def overhead(self) -> None:
        """--help and a usage error of every script, against Compose's own."""
        runs = self.settings.overhead_runs
        base = Path(tempfile.mkdtemp(prefix="transbot-bench-"))
        self.scratch.append(base)
        root = copy_repository(base / "repo")
        # A pristine clone: no .env.infra, no stack; only the environment helper is used.
        clone = Stack(root=root, compose=self.compose, images=self.images)
        env = clone.env()

        def timed(command: list[str]) -> tuple[float, int]:
            began = time.perf_counter()
            completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=base,
                                       stdin=subprocess.DEVNULL, timeout=60)
            return time.perf_counter() - began, completed.returncode

        for _ in range(runs):
            self.results.bash_floor.append(timed(["bash", "--noprofile", "--norc", "-c", ":"])[0])
        baselines = {"help": [*self.compose.command, "--help"],
                     "usage": [*self.compose.command, UNKNOWN_OPTION]}
        for script in sorted((root / "scripts").glob("*.sh")):
            entry = {}
            for mode, arg in (("help", "--help"), ("usage", UNKNOWN_OPTION)):
                command = [str(script), arg]
                _, code = timed(command)  # also warms the page cache
                expected = 0 if mode == "help" else 2
                if code != expected:
                    entry[mode] = {"exit": code, "not_applicable": True}
                    continue
                measured, baseline = [], []
                for index in range(runs):
                    pair = [(measured, command), (baseline, baselines[mode])]
                    for target, cmd in (pair if index % 2 == 0 else pair[::-1]):
                        seconds, code = timed(cmd)
                        if target is measured and code != expected:
                            raise BenchError(f"{script.name} {arg} exited {code}, expected {expected}")
                        target.append(seconds)
                entry[mode] = {"scripts": measured, "baseline": baseline}
            self.results.overhead[script.name] = entry
            help_median = median(entry["help"]["scripts"]) if "scripts" in entry["help"] else None
            log(f"overhead {script.name}: --help {fmt_seconds(help_median)}")

    def cold(self, stack: Stack) -> None:
        runs = self.results.starts.setdefault("cold", [])
        for index in range(self.settings.repeat):
            order = (SCRIPTS, BASELINE) if index % 2 == 0 else (BASELINE, SCRIPTS)
            for kind in order:
                result = self.attempt(f"cold start {index + 1} {kind}",
                                      lambda kind=kind: (self.wipe(stack), self.start(stack, kind, 0))[1])
                runs.append(result)
                log(f"cold start {index + 1}/{self.settings.repeat} {kind}: {fmt_seconds(result.seconds)}")

    def warm(self, stack: Stack, rows: int) -> None:
        runs = self.results.starts.setdefault("warm", [])
        for index in range(self.settings.repeat):
            order = (SCRIPTS, BASELINE) if index % 2 == 0 else (BASELINE, SCRIPTS)
            for kind in order:
                result = self.attempt(f"warm start {rows} rows {index + 1} {kind}",
                                      lambda kind=kind: (self.stop(stack), self.start(stack, kind, rows))[1])
                runs.append(result)
                log(f"warm start, {rows} rows, {index + 1}/{self.settings.repeat} {kind}: {fmt_seconds(result.seconds)}")

    def health(self, stack: Stack, rows: int) -> None:
        self.results.health[rows] = self.attempt(f"health check {rows} rows", lambda: self._health(stack))
        samples = self.results.health[rows]
        log(f"health-check.sh, {rows} rows: {fmt_seconds(median(samples[SCRIPTS]))}"
            f" (docker compose ps {fmt_seconds(median(samples[BASELINE]))})")

    def _health(self, stack: Stack) -> dict[str, list[float]]:
        samples: dict[str, list[float]] = {SCRIPTS: [], BASELINE: []}
        for index in range(self.settings.fast_runs):
            order = (SCRIPTS, BASELINE) if index % 2 == 0 else (BASELINE, SCRIPTS)
            for kind in order:
                began = time.perf_counter()
                if kind == SCRIPTS:
                    result = stack.script("health-check.sh")
                else:
                    result = self.compose_cli(stack, "ps")
                samples[kind].append(time.perf_counter() - began)
                require_ok("health-check.sh" if kind == SCRIPTS else "docker compose ps", result)
        self.note_others()
        return samples

    def healthy_start(self, stack: Stack) -> None:
        from .healthy import measure_healthy_start

        self.results.healthy_start = self.attempt("start.sh on a healthy stack",
                                                  lambda: measure_healthy_start(self, stack))
        samples = self.results.healthy_start
        log(f"start.sh on a healthy stack: {fmt_seconds(median(samples[SCRIPTS]))}"
            f" (docker compose up -d --wait {fmt_seconds(median(samples[BASELINE]))})")

    def idle(self, stack: Stack) -> None:
        settle, window, step = self.settings.idle_settle, self.settings.idle_window, self.settings.idle_step
        for index in range(self.settings.idle_rounds):
            round_result = {}
            for config in ("healthchecks", "no_healthchecks"):
                def window_of(config=config) -> dict:
                    self.stop(stack)
                    if config == "healthchecks":
                        self.start(stack, SCRIPTS, -1)
                    else:
                        require_ok("compose up without healthchecks",
                                   self.no_healthcheck_compose(stack, "up", "-d"))
                        wait_until_answering(stack)
                    time.sleep(settle)
                    return measure_idle_window(stack, window, step)

                round_result[config] = self.quiet_window(f"idle {index + 1} {config}", window_of)
                self.note_others()
                rates = round_result[config]["rates"]
                log(f"idle {index + 1}/{self.settings.idle_rounds} {config}: containers "
                    f"{fmt_cpu(sum(rates[s] for s in SERVICES))}, engine "
                    f"{fmt_cpu(rates['dockerd'] + rates['containerd'] + rates['shims'])}")
            self.results.idle.append(round_result)
        # Leave the stack as the scripts run it.
        self.stop(stack)
        self.start(stack, SCRIPTS, -1)

    def quiet_window(self, label: str, window_of) -> dict:
        """An idle window, taken again (up to twice, not in quick mode) while
        other work on the machine used more than QUIET_LIMIT of a core: the
        quietest one is kept, and every retake is listed in the output."""
        best = None
        for take in range(1 if self.settings.quick else RETRIES + 1):
            result = self.attempt(label, window_of)
            if best is None or result["other_work_cores"] < best["other_work_cores"]:
                best = result
            if result["other_work_cores"] <= QUIET_LIMIT:
                break
            busy = f"other work on the machine used {fmt_cpu(result['other_work_cores'])} of one core"
            if take < RETRIES and not self.settings.quick:
                self.results.retries.append(f"{label}: {busy}, measured again")
                log(f"{label}: {busy}; measuring it again")
        return best

    def grow(self, stack: Stack, rows: int) -> None:
        import psycopg

        values = stack.env_file()
        began = time.perf_counter()
        with psycopg.connect(host="127.0.0.1", port=stack.ports["postgres"],
                             user=values.get("POSTGRES_USER", "transbot_user"), password=values["POSTGRES_PASSWORD"],
                             dbname=values.get("POSTGRES_DB", "transbot"), connect_timeout=10) as conn:
            conn.execute(
                "INSERT INTO transbot.users (external_id, display_name, preferred_source_lang, preferred_target_lang)"
                " SELECT 'bench-user-' || g, 'Bench user ' || g, 'en', 'de' FROM generate_series(1, 1000) g"
                " ON CONFLICT (external_id) DO NOTHING")
            conn.commit()
            have = conn.execute("SELECT count(*) FROM transbot.translations").fetchone()[0]
            batch = 100_000
            while have < rows:
                upto = min(rows, have + batch)
                conn.execute(
                    """
                    WITH u AS (SELECT array_agg(id ORDER BY id) AS ids FROM transbot.users
                               WHERE external_id LIKE 'bench-user-%%')
                    INSERT INTO transbot.translations
                        (user_id, session_id, source_lang, target_lang, detected_lang, source_text,
                         translated_text, model, prompt_version, input_tokens, output_tokens, cost_usd,
                         latency_ms, status, langfuse_trace_id, created_at)
                    SELECT u.ids[1 + g %% cardinality(u.ids)], 'bench-session-' || (g / 20), NULL, 'de', 'en',
                           'Benchmark sentence number ' || g || ' about the weather, the train and dinner.',
                           'Benchmark-Satz Nummer ' || g || ' über das Wetter, den Zug und das Abendessen.',
                           'gpt-4o-mini', 'v3', 20 + g %% 80, 25 + g %% 90, (g %% 100) / 100000.0,
                           200 + g %% 1500, 'succeeded', md5(g::text), now() - make_interval(secs => g)
                    FROM u, generate_series(%s::bigint, %s::bigint) g
                    """,
                    (have + 1, upto),
                )
                conn.commit()
                have = upto
            conn.autocommit = True
            conn.execute("ANALYZE transbot.translations")
            conn.execute("CHECKPOINT")
            count = conn.execute("SELECT count(*) FROM transbot.translations").fetchone()[0]
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        if count != rows:
            raise BenchError(f"wanted {rows} translation rows, the table has {count}")
        self.results.growth[rows] = {"insert_seconds": time.perf_counter() - began, "database_bytes": size}
        log(f"database grown to {rows} translation rows ({size / 2**20:.0f} MiB) "
            f"in {time.perf_counter() - began:.1f} s")

    def run(self) -> None:
        log("script overhead (--help and usage errors)")
        self.overhead()
        stack = self.new_stack()
        log(f"stack {stack.project} in {stack.root}")
        self.cold(stack)
        self.warm(stack, 0)
        self.health(stack, 0)
        self.healthy_start(stack)
        self.results.growth[0] = {"insert_seconds": 0.0, "database_bytes": None}
        self.idle(stack)
        for rows in self.settings.row_counts[1:]:
            self.grow(stack, rows)
            self.warm(stack, rows)
            self.health(stack, rows)
        self.wipe(stack)


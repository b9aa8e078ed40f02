"""Runs the catalogue: copies the repository once per job, checks that the
selected tests pass on an unmutated copy, then plants each mutation in
a free copy, runs only its tests there, and puts the file back; the jobs
run side by side. Prints a table and writes it as markdown to
tests/mutations/.last-run.md.

Exit status: 0 every mutation killed, 1 a mutation survived (or the
baseline is not green), 2 usage error or a mutation that no longer applies,
130 interrupted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from mutations.catalogue import CI_LAYERS, MUTATIONS, Mutation

REPO_ROOT = Path(__file__).resolve().parents[2]
# The folder that holds this package: the test runs import the outcomes
# plugin from here.
_PACKAGE_PARENT = Path(__file__).resolve().parents[1]
REPORT = REPO_ROOT / "tests" / "mutations" / ".last-run.md"

EXIT_KILLED, EXIT_SURVIVED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

USAGE = """\
usage: tests/mutate.sh [--ci] [--list] [--jobs N] [MUTATION...]

Plants each mutation of tests/mutations/catalogue.py (a deliberate defect
that breaks one promise of the README) in a temporary copy of the
repository, one at a time, and runs the tests named for it: they must go
red. First the same tests run on the unmutated copy: they must pass. Each
job has a copy of its own, so mutations run side by side.

  --ci         only the mutations the unit and lint layers must catch, and
               only their unit and lint tests (no Docker engine needed)
  --list       list the mutations and exit
  --jobs N     mutations run at once (default: the number of CPUs)
  MUTATION     run only these (see --list)
  -h, --help   show this help

Exit status: 0 every mutation killed, 1 a mutation survived or the baseline
is not green, 2 usage error or a mutation whose text is not found exactly
once (the catalogue no longer fits the code), 130 interrupted.
"""


class UsageError(Exception):
    pass


@dataclass
class Options:
    ci: bool = False
    list_only: bool = False
    names: list[str] = field(default_factory=list)
    help: bool = False
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)


def parse_args(argv: list[str]) -> Options:
    options = Options()
    args = iter(argv)
    for arg in args:
        if arg in ("-h", "--help"):
            options.help = True
        elif arg == "--ci":
            options.ci = True
        elif arg == "--list":
            options.list_only = True
        elif arg == "--jobs" or arg.startswith("--jobs="):
            value = arg.partition("=")[2] if "=" in arg else next(args, "")
            if not value.isdigit() or int(value) < 1:
                raise UsageError(f"--jobs takes a whole number of at least 1, not '{value}'")
            options.jobs = int(value)
        elif arg.startswith("-"):
            raise UsageError(f"unknown option '{arg}'; valid options: --ci --list --jobs -h --help")
        else:
            options.names.append(arg)
    return options


# --- The catalogue against the tree ------------------------------------------------


def problems_applying(mutations: list[Mutation], root: Path) -> list[str]:
    """Why each mutation would not plant exactly one defect in ROOT."""
    problems, seen = [], set()
    for mutation in mutations:
        if mutation.name in seen:
            problems.append(f"{mutation.name}: the name is used twice")
        seen.add(mutation.name)
        path = root / mutation.file
        if not path.is_file():
            problems.append(f"{mutation.name}: {mutation.file} does not exist")
            continue
        count = path.read_text(encoding="utf-8").count(mutation.search)
        if count != 1:
            problems.append(f"{mutation.name}: its search text is found {count} times in {mutation.file}, "
                            f"not once: {mutation.search!r}")
        if mutation.search == mutation.replace:
            problems.append(f"{mutation.name}: the replacement is the search text")
        if not mutation.tests:
            problems.append(f"{mutation.name}: names no test that must catch it")
    return problems


def select(mutations: list[Mutation], options: Options) -> list[Mutation]:
    known = {mutation.name: mutation for mutation in mutations}
    unknown = [name for name in options.names if name not in known]
    if unknown:
        raise UsageError(f"unknown mutation {', '.join(unknown)}; see tests/mutate.sh --list")
    chosen = [known[name] for name in options.names] if options.names else list(mutations)
    if options.ci:
        chosen = [mutation for mutation in chosen if mutation.layer in CI_LAYERS]
    return chosen


def tests_of(mutation: Mutation, ci: bool) -> list[str]:
    if not ci:
        return list(mutation.tests)
    return [test for test in mutation.tests if test_layer(test) in CI_LAYERS]


def test_layer(nodeid: str) -> str:
    """tests/unit/test_x.py::test_y -> unit."""
    parts = nodeid.split("::")[0].split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else ""


# --- The copy ------------------------------------------------------------------------


def clone_files(root: Path) -> list[str]:
    """The files a clone has: tracked (with working-tree changes) and
    untracked but not ignored; never .venv, volumes, backups or .env.infra."""
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-co", "--exclude-standard", "-z"],
                            capture_output=True, text=True, check=True).stdout
    return [name for name in listed.split("\0") if name and (root / name).is_file()]


def make_copy(root: Path, destination: Path) -> Path:
    """A git repository with ROOT's files as a clone has them."""
    for name in clone_files(root):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target, follow_symlinks=False)
    (destination / "volumes").mkdir(exist_ok=True)
    git = ["git", "-C", str(destination), "-c", "user.name=mutate", "-c", "user.email=mutate@localhost"]
    subprocess.run([*git, "-c", "init.defaultBranch=main", "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "copy for tests/mutate.sh"], check=True)
    return destination


class Planted:
    """A mutation in the copy for the duration of a with-block."""

    def __init__(self, copy: Path, mutation: Mutation):
        self.path = copy / mutation.file
        self.mutation = mutation
        self.original = b""

    def __enter__(self):
        self.original = self.path.read_bytes()
        text = self.original.decode("utf-8")
        self.path.write_text(text.replace(self.mutation.search, self.mutation.replace, 1), encoding="utf-8")
        return self

    def __exit__(self, *exc):
        self.path.write_bytes(self.original)


# --- Running tests -------------------------------------------------------------------


@dataclass
class Outcome:
    returncode: int
    passed: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    skipped: set[str] = field(default_factory=set)
    output: str = ""
    seconds: float = 0.0


def default_command(copy: Path) -> list[str]:
    return [str(copy / "tests" / "run.sh")]


class Stopped(Exception):
    """The run was interrupted: no new test run starts."""


class Lab:
    """The copies, one per job, and the test runs under way in them: an
    interrupted run ends every one of them."""

    def __init__(self, copies: list[Path], command):
        self.free: list[Path] = list(copies)
        # Each copy runs its own tests/run.sh (COMMAND may be a function of the copy).
        self.commands = {copy: command(copy) if callable(command) else command for copy in copies}
        self.lock = threading.Lock()
        self.ready = threading.Condition(self.lock)
        self.running: set[subprocess.Popen] = set()
        self.stopped = False

    def run(self, nodeids: list[str], mutation: Mutation | None = None, options: tuple[str, ...] = ()) -> Outcome:
        """NODEIDS in a free copy, with MUTATION planted there meanwhile;
        OPTIONS go to pytest."""
        with self.ready:
            while not self.free and not self.stopped:
                self.ready.wait()
            if self.stopped:
                raise Stopped()
            copy = self.free.pop()
        try:
            command = [*self.commands[copy], *options]
            if mutation is None:
                return run_tests(copy, nodeids, command, copy.parent, self)
            with Planted(copy, mutation):
                return run_tests(copy, nodeids, command, copy.parent, self)
        finally:
            with self.ready:
                self.free.append(copy)
                self.ready.notify()

    def started(self, process: subprocess.Popen) -> None:
        with self.lock:
            if self.stopped:
                process.terminate()
            self.running.add(process)

    def finished(self, process: subprocess.Popen) -> None:
        with self.lock:
            self.running.discard(process)

    def stop(self) -> None:
        with self.ready:
            self.stopped = True
            self.ready.notify_all()
            running = list(self.running)
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def run_tests(copy: Path, nodeids: list[str], command: list[str], scratch: Path, lab: Lab) -> Outcome:
    """Runs NODEIDS with COMMAND (pytest's arguments follow) from COPY."""
    outcomes = scratch / "outcomes.jsonl"
    outcomes.unlink(missing_ok=True)
    env = {key: value for key, value in os.environ.items() if key != "TRANSBOT_TEST_USER"}
    env["TRANSBOT_MUTATION_OUTCOMES"] = str(outcomes)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_PARENT), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("TRANSBOT_TEST_VENV", str(REPO_ROOT / "tests" / ".venv"))
    began = time.monotonic()
    with open(scratch / "pytest.log", "w+", encoding="utf-8") as log:
        process = subprocess.Popen([*command, "-p", "no:cacheprovider", "-p", "mutations.outcomes", "-q", *nodeids],
                                   cwd=copy, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        lab.started(process)
        try:
            returncode = process.wait()
        finally:
            lab.finished(process)
        log.seek(0)
        output = log.read()
    outcome = Outcome(returncode, output=output, seconds=time.monotonic() - began)
    if outcomes.exists():
        for line in outcomes.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            getattr(outcome, record["outcome"]).add(record["nodeid"])
    outcome.passed -= outcome.failed | outcome.skipped
    return outcome


def short(nodeids: set[str]) -> list[str]:
    """Test ids without 'tests/', parametrisations folded: name (xN)."""
    counts: dict[str, int] = {}
    for nodeid in sorted(nodeids):
        base = nodeid.split("[")[0].removeprefix("tests/")
        counts[base] = counts.get(base, 0) + 1
    return [f"{base} (x{count})" if count > 1 else base for base, count in counts.items()]


# --- The run -------------------------------------------------------------------------


@dataclass
class Result:
    mutation: Mutation
    red: set[str]
    seconds: float
    returncode: int

    @property
    def killed(self) -> bool:
        return bool(self.red)

    @property
    def verdict(self) -> str:
        if self.killed:
            return "killed"
        return "SURVIVED" if self.returncode in (0, 5) else f"SURVIVED (pytest exit {self.returncode})"


def print_list(mutations: list[Mutation]) -> None:
    width = max(len(mutation.name) for mutation in mutations)
    for mutation in mutations:
        print(f"{mutation.name:<{width}}  {mutation.layer:<11}  {mutation.file}")
        print(f"{'':<{width}}  promise: {mutation.promise}")


def print_table(results: list[Result]) -> None:
    width = max(len(result.mutation.name) for result in results)
    print(f"\n{'mutation':<{width}}  {'result':<8}  tests that went red")
    for result in results:
        red = ", ".join(short(result.red)) or "none"
        print(f"{result.mutation.name:<{width}}  {result.verdict:<8}  {red}")
        print(f"{'':<{width}}  promise: {result.mutation.promise}")


def markdown(results: list[Result], title: str) -> str:
    lines = [f"# {title}", "", "| mutation | promise | result | tests that went red |", "|---|---|---|---|"]
    for result in results:
        red = "<br>".join(f"`{name}`" for name in short(result.red)) or "none"
        promise = result.mutation.promise.replace("|", "\\|")
        lines.append(f"| `{result.mutation.name}` ({result.mutation.file}) | {promise} | {result.verdict} | {red} |")
    return "\n".join(lines) + "\n"


def parallel_options(jobs: int) -> tuple[str, ...]:
    """pytest-xdist's options for JOBS workers, as tests/run.sh uses them:
    tests that share a module-scoped stack stay on one worker, in order."""
    return ("-n", str(jobs), "--dist", "loadgroup") if jobs > 1 else ()


def baseline_is_green(baseline: Outcome) -> bool:
    if baseline.returncode == 0 and not (baseline.failed or baseline.skipped) and baseline.passed:
        return True
    print(baseline.output[-6000:])
    print("\nmutate: the baseline is not green, so no mutation can prove anything:", file=sys.stderr)
    for name in short(baseline.failed):
        print(f"  failed:  {name}", file=sys.stderr)
    for name in short(baseline.skipped):
        print(f"  skipped: {name} (a skipped test catches nothing)", file=sys.stderr)
    if not (baseline.failed or baseline.skipped):
        print(f"  pytest exited {baseline.returncode}", file=sys.stderr)
    return False


def run(mutations: list[Mutation], options: Options, root: Path, command, report: Path | None) -> int:
    began = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="transbot-mutate-"))
    jobs = min(options.jobs, len(mutations))
    try:
        first = make_copy(root, scratch / "job-1" / "repo")
        copies = [first] + [shutil.copytree(first, scratch / f"job-{number}" / "repo", symlinks=True)
                            for number in range(2, jobs + 1)]
        lab = Lab(copies, command)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            # The baseline: every selected test, once, in one copy, by pytest's workers.
            try:
                baseline_tests = sorted({test for mutation in mutations for test in tests_of(mutation, options.ci)})
                print(f"Baseline: {len(baseline_tests)} tests on the unmutated copy ({jobs} at once) ...", flush=True)
                baseline = lab.run(baseline_tests, options=parallel_options(jobs))
                if not baseline_is_green(baseline):
                    return EXIT_SURVIVED
                print(f"Baseline green ({len(baseline.passed)} passed, {baseline.seconds:.0f} s)", flush=True)
                pending = {pool.submit(lab.run, tests_of(mutation, options.ci), mutation): number
                           for number, mutation in enumerate(mutations)}
                results: list[Result | None] = [None] * len(mutations)
                for done, future in enumerate(as_completed(pending), 1):
                    number = pending[future]
                    outcome = future.result()
                    result = Result(mutations[number], outcome.failed, outcome.seconds, outcome.returncode)
                    results[number] = result
                    print(f"[{done}/{len(mutations)}] {result.mutation.name} ... "
                          f"{result.verdict} ({len(result.red)} red, {outcome.seconds:.1f} s)", flush=True)
            except BaseException:
                # Before the pool waits for its threads: end their test runs.
                lab.stop()
                raise
        finished = [result for result in results if result is not None]
        print_table(finished)
        survivors = [result for result in finished if not result.killed]
        seconds = time.monotonic() - began
        summary = (f"{len(finished) - len(survivors)} of {len(finished)} mutations killed"
                   f"{' (--ci)' if options.ci else ''} in {seconds:.0f} s")
        print(f"\n{summary}" + (f"; SURVIVED: {', '.join(r.mutation.name for r in survivors)}" if survivors else ""))
        if report is not None:
            report.write_text(markdown(finished, f"Mutation run: {summary}"), encoding="utf-8")
            print(f"Table written to {report}")
        return EXIT_SURVIVED if survivors else EXIT_KILLED
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str], mutations: list[Mutation] | None = None, root: Path = REPO_ROOT,
         command=default_command, report: Path | None = REPORT) -> int:
    catalogue = list(MUTATIONS if mutations is None else mutations)
    try:
        options = parse_args(argv)
        if options.help:
            print(USAGE, end="")
            return EXIT_KILLED
        problems = problems_applying(catalogue, root)
        if problems:
            print("mutate: the catalogue no longer fits the code (fix tests/mutations/catalogue.py):", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            return EXIT_USAGE
        chosen = select(catalogue, options)
    except UsageError as error:
        print(f"mutate: {error} (see tests/mutate.sh --help)", file=sys.stderr)
        return EXIT_USAGE
    if options.list_only:
        print_list(chosen)
        return EXIT_KILLED
    if not chosen:
        print("mutate: no mutation selected", file=sys.stderr)
        return EXIT_USAGE
    # A SIGTERM (a CI runner's) ends the run like Ctrl-C: the copy is removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return run(chosen, options, root, command, report)
    except KeyboardInterrupt:
        print("\nmutate: interrupted; the temporary copy was removed", file=sys.stderr)
        return EXIT_INTERRUPTED

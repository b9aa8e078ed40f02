"""Runs the catalogue: copies the repository once, checks that the selected
tests pass on the unmutated copy, then plants each mutation in turn, runs
only its tests, and puts the file back. Prints a table and writes it as
markdown to tests/mutations/.last-run.md.

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
import time
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
usage: tests/mutate.sh [--ci] [--list] [MUTATION...]

Plants each mutation of tests/mutations/catalogue.py (a deliberate defect
that breaks one promise of the README) in a temporary copy of the
repository, one at a time, and runs the tests named for it: they must go
red. First the same tests run on the unmutated copy: they must pass.

  --ci         only the mutations the unit and lint layers must catch, and
               only their unit and lint tests (no Docker engine needed)
  --list       list the mutations and exit
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


def parse_args(argv: list[str]) -> Options:
    options = Options()
    for arg in argv:
        if arg in ("-h", "--help"):
            options.help = True
        elif arg == "--ci":
            options.ci = True
        elif arg == "--list":
            options.list_only = True
        elif arg.startswith("-"):
            raise UsageError(f"unknown option '{arg}'; valid options: --ci --list -h --help")
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


def run_tests(copy: Path, nodeids: list[str], command: list[str], scratch: Path) -> Outcome:
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
        try:
            returncode = process.wait()
        except BaseException:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
            raise
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


def run(mutations: list[Mutation], options: Options, root: Path, command, report: Path | None) -> int:
    began = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="transbot-mutate-"))
    try:
        copy = make_copy(root, scratch / "repo")
        command = command(copy) if callable(command) else command
        baseline_tests = sorted({test for mutation in mutations for test in tests_of(mutation, options.ci)})
        print(f"Baseline: {len(baseline_tests)} tests on the unmutated copy ...", flush=True)
        baseline = run_tests(copy, baseline_tests, command, scratch)
        if baseline.returncode != 0 or baseline.failed or baseline.skipped or not baseline.passed:
            print(baseline.output[-6000:])
            print("\nmutate: the baseline is not green, so no mutation can prove anything:", file=sys.stderr)
            for name in short(baseline.failed):
                print(f"  failed:  {name}", file=sys.stderr)
            for name in short(baseline.skipped):
                print(f"  skipped: {name} (a skipped test catches nothing)", file=sys.stderr)
            if not (baseline.failed or baseline.skipped):
                print(f"  pytest exited {baseline.returncode}", file=sys.stderr)
            return EXIT_SURVIVED
        print(f"Baseline green ({len(baseline.passed)} passed, {baseline.seconds:.0f} s)", flush=True)
        results = []
        for number, mutation in enumerate(mutations, 1):
            print(f"[{number}/{len(mutations)}] {mutation.name} ...", end=" ", flush=True)
            with Planted(copy, mutation):
                outcome = run_tests(copy, tests_of(mutation, options.ci), command, scratch)
            result = Result(mutation, outcome.failed, outcome.seconds, outcome.returncode)
            results.append(result)
            print(f"{result.verdict} ({len(result.red)} red, {outcome.seconds:.1f} s)", flush=True)
        print_table(results)
        survivors = [result for result in results if not result.killed]
        seconds = time.monotonic() - began
        summary = (f"{len(results) - len(survivors)} of {len(results)} mutations killed"
                   f"{' (--ci)' if options.ci else ''} in {seconds:.0f} s")
        print(f"\n{summary}" + (f"; SURVIVED: {', '.join(r.mutation.name for r in survivors)}" if survivors else ""))
        if report is not None:
            report.write_text(markdown(results, f"Mutation run: {summary}"), encoding="utf-8")
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

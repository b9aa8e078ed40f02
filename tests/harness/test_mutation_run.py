"""The mutation run itself (tests/mutate.sh, tests/mutations/).

On a tiny repository of its own: a mutation whose text is not found is a
catalogue error (exit 2), one that no test catches survives (exit 1), one a
test catches is killed (exit 0), and a baseline that is not green stops the
run before any mutation (exit 1). On this repository: every entry of the
real catalogue still applies exactly once and names tests that exist, and
every script and service file has at least one mutation.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mutations import runner
from mutations.catalogue import CI_LAYERS, MUTATIONS, Mutation
from support.engine import REPO_ROOT

PYTEST = [sys.executable, "-m", "pytest"]

_CHECKS_THE_GREETING = '''
from pathlib import Path

def test_the_greeting_is_hello():
    assert Path("greeting.txt").read_text() == "hello\\n"
'''
_CHECKS_NOTHING = '''
def test_nothing_in_particular():
    assert True
'''


def tiny_repository(root: Path, test_source: str) -> Path:
    root.mkdir()
    (root / "greeting.txt").write_text("hello\n")
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_greeting.py").write_text(test_source)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def greeting_mutation(search: str = "hello", test: str = "tests/test_greeting.py") -> Mutation:
    return Mutation("greeting-changed", "greeting.txt", search, "goodbye", "it says hello", "unit", (test,))


def run_tiny(repo: Path, mutation: Mutation, report: Path | None = None) -> int:
    return runner.main([], mutations=[mutation], root=repo, command=PYTEST, report=report)


def run_tiny_and_report(tmp_path: Path, test_source: str, capsys) -> tuple[int, str, str, Path]:
    """The greeting mutation on a tiny repository whose test is TEST_SOURCE:
    exit status, stdout, the markdown table, and the repository."""
    repo = tiny_repository(tmp_path / "repo", test_source)
    report = tmp_path / "last-run.md"
    status = run_tiny(repo, greeting_mutation(), report)
    return status, capsys.readouterr().out, report.read_text(), repo


def test_a_mutation_whose_text_is_not_found_is_a_catalogue_error(tmp_path, capsys):
    repo = tiny_repository(tmp_path / "repo", _CHECKS_THE_GREETING)
    assert run_tiny(repo, greeting_mutation(search="bonjour")) == 2
    err = capsys.readouterr().err
    assert "greeting-changed: its search text is found 0 times in greeting.txt" in err, err


def test_a_mutation_no_test_catches_survives_with_exit_1(tmp_path, capsys):
    status, out, table, repo = run_tiny_and_report(tmp_path, _CHECKS_NOTHING, capsys)
    assert status == 1
    assert re.search(r"greeting-changed\s+SURVIVED\s+none", out), out
    assert "| `greeting-changed` (greeting.txt) | it says hello | SURVIVED | none |" in table
    assert (repo / "greeting.txt").read_text() == "hello\n", "the checkout itself is never mutated"


def test_a_mutation_a_test_catches_is_killed_with_exit_0(tmp_path, capsys):
    status, out, table, _ = run_tiny_and_report(tmp_path, _CHECKS_THE_GREETING, capsys)
    assert status == 0
    assert re.search(r"greeting-changed\s+killed\s+test_greeting.py::test_the_greeting_is_hello", out), out
    assert "| killed | `test_greeting.py::test_the_greeting_is_hello` |" in table


def test_a_baseline_that_is_not_green_stops_the_run_with_exit_1(tmp_path, capsys):
    repo = tiny_repository(tmp_path / "repo", _CHECKS_THE_GREETING)
    (repo / "greeting.txt").write_text("hello there\n")  # the test fails before any mutation
    report = tmp_path / "last-run.md"
    assert run_tiny(repo, greeting_mutation(), report) == 1
    captured = capsys.readouterr()
    assert "the baseline is not green" in captured.err
    assert "failed:  test_greeting.py::test_the_greeting_is_hello" in captured.err
    assert "[1/1]" not in captured.out and not report.exists()


_CHECKS_THE_GREETING_SLOWLY = '''
import time
from pathlib import Path

def test_the_greeting_is_hello():
    time.sleep(1)  # long enough for the other job's mutation to be planted meanwhile
    assert Path("greeting.txt").read_text() == "hello\\n"
'''


def test_mutations_run_at_once_each_in_a_copy_of_its_own(tmp_path, capsys):
    repo = tiny_repository(tmp_path / "repo", _CHECKS_THE_GREETING_SLOWLY)
    (repo / "farewell.txt").write_text("bye\n")
    caught = greeting_mutation()
    # Only a copy shared with the greeting mutation would make this one red.
    harmless = Mutation("farewell-changed", "farewell.txt", "bye", "ciao", "it says bye", "unit",
                        ("tests/test_greeting.py",))
    status = runner.main(["--jobs", "2"], mutations=[caught, harmless], root=repo, command=PYTEST, report=None)
    out = capsys.readouterr().out
    assert status == 1, out
    assert re.search(r"greeting-changed\s+killed", out), out
    assert re.search(r"farewell-changed\s+SURVIVED\s+none", out), out
    assert "(2 at once)" in out, out
    assert (repo / "greeting.txt").read_text() == "hello\n" and (repo / "farewell.txt").read_text() == "bye\n"


def test_an_unknown_option_or_mutation_is_a_usage_error(capsys):
    assert runner.main(["--fast"], report=None) == 2
    assert runner.main(["no-such-mutation"], report=None) == 2
    assert runner.main(["--jobs", "0"], report=None) == 2
    err = capsys.readouterr().err
    assert "unknown option '--fast'" in err and "unknown mutation no-such-mutation" in err
    assert "--jobs takes a whole number of at least 1, not '0'" in err


# --- The real catalogue ------------------------------------------------------------


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda mutation: mutation.name)
def test_each_mutation_applies_exactly_once_to_the_current_tree(mutation):
    assert runner.problems_applying([mutation], REPO_ROOT) == []


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda mutation: mutation.name)
def test_each_mutation_names_tests_that_exist_in_its_layer(mutation):
    for nodeid in mutation.tests:
        path, _, name = nodeid.partition("::")
        assert (REPO_ROOT / path).is_file(), nodeid
        # A whole file is named only for a journey, whose steps share one
        # stack and cannot run alone: the runner then runs every step in order.
        pattern = rf"^def {re.escape(name)}\(" if name else r"^def test_\w+\("
        assert re.search(pattern, (REPO_ROOT / path).read_text(), re.M), nodeid
    layers = {runner.test_layer(nodeid) for nodeid in mutation.tests}
    assert mutation.layer in layers, f"{mutation.name}: no test of its own layer {mutation.layer}"
    if mutation.layer in CI_LAYERS:
        assert layers & set(CI_LAYERS), f"{mutation.name} runs in CI but names no unit or lint test"


def test_every_script_and_service_file_has_a_mutation():
    files = {"docker-compose.yml"}
    for pattern in ("scripts/commands/*.sh", "scripts/lib/**/*.sh", "services/**/*.*"):
        files |= {str(path.relative_to(REPO_ROOT)) for path in REPO_ROOT.glob(pattern) if path.is_file()}
    assert sorted(files - {mutation.file for mutation in MUTATIONS}) == []

"""tests/COMMANDS.md lists, for every command a user types, the test files
that run it, and the list cannot rot.

Which files run a command is read from the code, not from the index: a test
file of a layer that drives the scripts runs `start.sh` when its code (not
its docstrings or comments) holds the string "start.sh" (as
`harness.run("start.sh")`, `stack.script("start.sh")`, `script_ok(stack,
"start.sh")` or a parametrize tuple all pass it), or imports a constant of a
helper module that holds it (`from .harness import SCRIPTS`). The index must
name exactly those files under each command: a new test file that runs a
command and is not listed goes red, and so does a listed file that no longer
runs it or no longer exists.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from support.engine import REPO_ROOT

INDEX = REPO_ROOT / "tests" / "COMMANDS.md"
# The layers whose tests run the scripts. lint, harness and bench/tests check
# files and the suite's machinery; where they name a script it is a file or a
# label, not a run.
LAYERS = ("unit", "integration", "e2e", "reliability", "swarm")
# Where an imported module lives, by its first name (pytest.ini's pythonpath).
PACKAGE_ROOTS = {"support": REPO_ROOT / "tests", "transbench": REPO_ROOT / "bench"}
HEADING = re.compile(r"^## `?([\w.-]+\.sh)`?\s*$")
LINK = re.compile(r"\]\(([^)\s]+\.py)\)")


def commands() -> list[str]:
    """The names users type: scripts/<name>.sh. Once each command's code
    lives in scripts/commands/<name>.sh behind a dispatcher, that folder
    names them; the names users type stay the same."""
    folder = REPO_ROOT / "scripts" / "commands"
    if not folder.is_dir():
        folder = REPO_ROOT / "scripts"
    return sorted(path.name for path in folder.glob("*.sh"))


def names_a_command(text: str, names: list[str]) -> set[str]:
    """The commands a string names: "start.sh", "scripts/start.sh" or
    "scripts/commands/start.sh"; not "scripts/lib/backup.sh"."""
    found = set()
    for name in names:
        if text == name or re.search(r"(^|/)(scripts|commands)/" + re.escape(name) + "$", text):
            found.add(name)
    return found


def strings(tree: ast.AST) -> list[str]:
    """Every string constant of the code, docstrings left out."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def module_path(importer: Path, node: ast.ImportFrom) -> Path | None:
    if node.level:
        base = importer.parent
        for _ in range(node.level - 1):
            base = base.parent
        return base.joinpath(*(node.module or "").split(".")).with_suffix(".py")
    parts = (node.module or "").split(".")
    if parts[0] in PACKAGE_ROOTS:
        return PACKAGE_ROOTS[parts[0]].joinpath(*parts).with_suffix(".py")
    return None


def constants(path: Path, names: list[str]) -> dict[str, set[str]]:
    """The module's top-level constants that name commands, e.g. the unit
    harness's SCRIPTS = ("start.sh", "stop.sh", ...)."""
    found: dict[str, set[str]] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            named = set().union(*(names_a_command(text, names) for text in strings(node.value)), set())
            for target in node.targets:
                if isinstance(target, ast.Name) and named:
                    found[target.id] = named
    return found


def commands_run_by(path: Path, names: list[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for text in strings(tree):
        found |= names_a_command(text, names)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = module_path(path, node)
            if source is not None and source.is_file():
                shared = constants(source, names)
                for alias in node.names:
                    found |= shared.get(alias.name, set())
    return found


def layer_test_files() -> list[Path]:
    return sorted(path for layer in LAYERS for path in (REPO_ROOT / "tests" / layer).glob("test_*.py"))


def runs() -> dict[str, set[str]]:
    """Command -> the test files (relative to the repository) that run it."""
    names = commands()
    found: dict[str, set[str]] = {name: set() for name in names}
    for path in layer_test_files():
        for name in commands_run_by(path, names):
            found[name].add(path.relative_to(REPO_ROOT).as_posix())
    return found


def index_entries(text: str) -> dict[str, list[str]]:
    """Command -> the files its section of the index links to, as
    repository paths (the links are relative to tests/)."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading:
            current = heading.group(1)
            entries.setdefault(current, [])
        elif line.startswith("## "):
            current = None
        elif current is not None:
            for target in LINK.findall(line):
                entries[current].append((INDEX.parent / target).resolve().relative_to(REPO_ROOT.resolve()).as_posix())
    return entries


def entry_text(files: set[str]) -> str:
    """The lines a command's section should have: its files by layer."""
    lines = []
    for layer in LAYERS:
        links = [f"[{Path(f).name}]({Path(f).relative_to('tests').as_posix()})"
                 for f in sorted(files) if f.startswith(f"tests/{layer}/")]
        if links:
            lines.append(f"- {layer}: " + ", ".join(links))
    return "\n".join(lines)


def problems(text: str, found: dict[str, set[str]]) -> list[str]:
    entries = index_entries(text)
    wrong = []
    for name in sorted(set(found) | set(entries)):
        listed = entries.get(name)
        if name not in found:
            wrong.append(f"{name}: in the index, but no command of that name exists in scripts/")
            continue
        if listed is None:
            wrong.append(f"{name}: no section `## {name}` in tests/COMMANDS.md; it should read:\n"
                         f"{entry_text(found[name])}")
            continue
        missing = sorted(found[name] - set(listed))
        absent = sorted(f for f in listed if not (REPO_ROOT / f).is_file())
        idle = sorted(f for f in set(listed) - found[name] if (REPO_ROOT / f).is_file())
        for f in missing:
            wrong.append(f"{name}: {f} runs it but is not listed under `## {name}`")
        for f in absent:
            wrong.append(f"{name}: lists {f}, which does not exist")
        for f in idle:
            wrong.append(f"{name}: lists {f}, which does not run it")
        if missing or absent or idle:
            wrong.append(f"{name}: the section should read:\n{entry_text(found[name])}")
    return wrong


def test_every_command_has_an_entry_naming_exactly_the_test_files_that_run_it():
    assert INDEX.is_file(), "tests/COMMANDS.md is missing"
    wrong = problems(INDEX.read_text(encoding="utf-8"), runs())
    assert not wrong, "tests/COMMANDS.md is out of date:\n" + "\n".join(wrong)


def test_the_detection_sees_a_run_through_a_constant_of_the_unit_harness():
    # test_usage_errors.py names no script itself: it runs the harness's
    # SCRIPTS. Were imports not followed, half the index would go unchecked.
    run = commands_run_by(REPO_ROOT / "tests" / "unit" / "test_usage_errors.py", commands())
    assert {"start.sh", "stop.sh", "reset.sh"} <= run


def test_the_detection_ignores_library_files_and_docstrings(tmp_path):
    names = ["backup.sh", "start.sh"]
    source = tmp_path / "test_x.py"
    source.write_text('"""start.sh in a docstring is not a run."""\n'
                      'LIBRARY = "scripts/lib/backup.sh"\n'
                      'def test_x(stack):\n    stack.script("scripts/commands/start.sh")\n')
    assert commands_run_by(source, names) == {"start.sh"}

"""The library's load order is true: a file never calls a function of a file
loaded after it.

scripts/lib/all.sh sources the library's files in an order it calls their
dependency order. If a file called into a later one, that order would be a
comment, not a fact: a reader could not understand a file from what comes
before it, and a change to a later file could break an earlier one. This
test reads all.sh for the order, finds every function each file defines,
and fails on each call that goes the wrong way, naming it.
"""

from __future__ import annotations

import re
from pathlib import Path

from support.engine import REPO_ROOT

LIB = REPO_ROOT / "scripts" / "lib"
SOURCE = re.compile(r'^\s*source\s+"\$_lib_dir/([^"]+)"', re.M)
DEFINITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\)\s*\{", re.M)
# A word in command position: where bash would run it (line start, after
# ; | & ( { ! $( <( >(, a case pattern's ")" or a keyword), so a variable
# that shares a function's name (`local answer`) is not taken for a call.
CALL = re.compile(r"(?:^|^[^(]*\)|[;|&({`!]|\$\(|[<>]\(|\b(?:then|do|else|elif|if|while|until|exec|command)\s)"
                  r"\s*([A-Za-z_][A-Za-z0-9_]*)")


def load_order(all_sh: Path = LIB / "all.sh") -> list[Path]:
    """The library's files in the order all.sh sources them. The service
    files (lib/services/*.sh) come last and are listed one by one, so a
    file above that called a service's function by name is a backward
    call; the dispatcher calls them by a name it builds, which no lint
    sees (tests/lint/test_service_files.py keeps those names out of the
    other files)."""
    order = []
    for name in SOURCE.findall(all_sh.read_text()):
        order.append(LIB / name)
    return order


def code_lines(path: Path) -> list[tuple[int, str]]:
    """The file's lines without comments: whole-line comments, and a ' #'
    comment after code (good enough for this library's style)."""
    lines = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        lines.append((number, re.sub(r"\s#\s.*$", "", line)))
    return lines


def definitions(path: Path) -> set[str]:
    return set(DEFINITION.findall(path.read_text()))


def backward_calls(order: list[Path]) -> list[str]:
    """Every line of a file that names a function defined only in a file
    loaded after it, as 'file:line calls NAME (defined in LATER)'."""
    defined = [definitions(path) for path in order]
    found = []
    for index, path in enumerate(order):
        earlier_or_own = set().union(*defined[: index + 1])
        later = {name: order[j] for j in range(index + 1, len(order)) for name in defined[j]
                 if name not in earlier_or_own}
        for number, line in code_lines(path):
            for word in sorted(set(CALL.findall(line)) & set(later)):
                found.append(f"{path.relative_to(REPO_ROOT)}:{number} calls {word} "
                             f"(defined in {later[word].relative_to(REPO_ROOT)}, loaded later)")
    return found


def test_no_library_file_calls_a_function_of_a_file_loaded_after_it():
    calls = backward_calls(load_order())
    assert not calls, "calls against the load order of scripts/lib/all.sh:\n" + "\n".join(calls)


def test_every_library_file_is_in_the_load_order():
    """A file all.sh does not source is neither loaded nor checked above."""
    # run.sh is the entry point that sources all.sh, not a layer of the library.
    files = {path for path in LIB.glob("*.sh") if path.name not in ("all.sh", "run.sh")}
    assert sorted(path.name for path in files - set(load_order())) == []


def test_the_check_finds_a_planted_backward_call(tmp_path):
    (tmp_path / "all.sh").write_text('source "$_lib_dir/first.sh"\nsource "$_lib_dir/second.sh"\n')
    (tmp_path / "first.sh").write_text("early() {\n    # late is mentioned in a comment only\n    late\n}\n")
    (tmp_path / "second.sh").write_text("late() {\n    early\n}\n")
    order = [tmp_path / "first.sh", tmp_path / "second.sh"]
    assert [SOURCE.findall((tmp_path / "all.sh").read_text())] == [["first.sh", "second.sh"]]
    global REPO_ROOT
    saved, REPO_ROOT = REPO_ROOT, tmp_path
    try:
        assert backward_calls(order) == ["first.sh:3 calls late (defined in second.sh, loaded later)"]
    finally:
        REPO_ROOT = saved


# The checks a command makes before it acts, in the one order lib/needs.sh
# knows. A command that called one itself would have its own order again.
PRECONDITIONS = {"require_env", "load_env_if_present", "prepare_env", "require_engine", "require_docker",
                 "take_stack_lock", "require_own_stack_in", "require_swarm_manager"}


def direct_preconditions(paths: list[Path]) -> list[str]:
    """Every call of a precondition outside lib/needs.sh, as 'file:line calls NAME'."""
    found = []
    for path in paths:
        if path.name == "needs.sh" and path.parent == LIB:
            continue
        own = definitions(path)
        for number, line in code_lines(path):
            for word in sorted((set(CALL.findall(line)) & PRECONDITIONS) - own):
                found.append(f"{path.relative_to(REPO_ROOT)}:{number} calls {word}")
    return found


def command_and_library_files() -> list[Path]:
    return sorted((REPO_ROOT / "scripts" / "commands").glob("*.sh")) + sorted(LIB.rglob("*.sh"))


def test_commands_state_their_preconditions_with_needs_only():
    calls = direct_preconditions(command_and_library_files())
    assert not calls, "preconditions belong on the command's `needs` line:\n" + "\n".join(calls)


def test_every_command_that_touches_the_stack_has_one_needs_line():
    for path in sorted((REPO_ROOT / "scripts" / "commands").glob("*.sh")):
        text = path.read_text()
        if path.name in ("start.sh", "restart.sh", "psql.sh", "redis-cli.sh"):
            # bring_up and open_client (lib/lifecycle.sh) have theirs
            assert "bring_up " in text or "open_client " in text, path.name
            continue
        assert len([line for _, line in code_lines(path) if line.strip().startswith("needs ")]) == 1, path.name


def test_the_check_finds_a_planted_direct_precondition(tmp_path):
    planted = tmp_path / "psql.sh"
    planted.write_text("main() {\n    require_env\n    needs engine own-stack\n}\n")
    global REPO_ROOT
    saved, REPO_ROOT = REPO_ROOT, tmp_path
    try:
        assert direct_preconditions([planted]) == ["psql.sh:2 calls require_env"]
    finally:
        REPO_ROOT = saved

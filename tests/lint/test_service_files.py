"""What is particular to one built-in service lives in its one file,
scripts/lib/services/<name>.sh, and nowhere else.

The rest of the scripts reach a service's code only through the dispatcher
of scripts/lib/services.sh (service_hook, service_has). A `case` branch on
a service's name, or a direct call of one of its functions, outside its
file would spread that knowledge again: the next engineer adding a service
would have to find every such place. This test reads the table of
built-in services, checks each has its file, and fails on each line
elsewhere in scripts/ that names a service in a case pattern or calls a
service's function, naming it.
"""

from __future__ import annotations

import re
from pathlib import Path

from support.engine import REPO_ROOT

SCRIPTS = REPO_ROOT / "scripts"
SERVICE_FILES = SCRIPTS / "lib" / "services"
TABLE = re.compile(r"^readonly _SERVICE_TABLE='\n(.*?)^'", re.M | re.S)
DEFINITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\)\s*\{", re.M)
# A word in command position (as in test_library_layers.py), but for an
# assignment (`langfuse_host=...`).
CALL = re.compile(r"(?:^|^[^(]*\)|[;|&({`!]|\$\(|[<>]\(|\b(?:then|do|else|elif|if|while|until|exec|command)\s)"
                  r"\s*([A-Za-z_][A-Za-z0-9_]*)\b(?!\+?=|\[)")
CASE_LABEL = re.compile(r"^[^(]*\)")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_]+)\1")


def builtin_services(services_sh: Path = SCRIPTS / "lib" / "services.sh") -> list[str]:
    """The first column of the table of built-in services."""
    table = TABLE.search(services_sh.read_text())
    assert table, "scripts/lib/services.sh has no _SERVICE_TABLE"
    return [line.split()[0] for line in table.group(1).splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def case_pattern(services: list[str]) -> re.Pattern[str]:
    """A line that starts with a case pattern (`postgres)`, `"redis" | x)`,
    `*:langfuse*)`) naming one of SERVICES."""
    word = r"[\w*?:.\[\]\"'-]*"
    named = rf"{word}\b(?:{'|'.join(map(re.escape, services))})\b{word}"
    return re.compile(rf"^\s*\(?\s*(?:{word}\s*\|\s*)*{named}\s*(?:\|\s*{word}\s*)*\)")


def calls(line: str) -> set[str]:
    """The words LINE runs, also the first command after a case pattern
    (`redis) redis_probe ;;`), which CALL alone takes the pattern for."""
    found = set(CALL.findall(line))
    label = CASE_LABEL.match(line)
    if label:
        found |= set(CALL.findall(line[label.end():]))
    return found


def code_lines(path: Path) -> list[tuple[int, str]]:
    """The file's lines but comments and here-document bodies (help
    texts name the services, as they should)."""
    lines, ending = [], None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if ending is not None:
            if line.strip() == ending:
                ending = None
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        heredoc = HEREDOC.search(line)
        if heredoc and "<<<" not in line:
            ending = heredoc.group(2)
        lines.append((number, re.sub(r"\s#\s.*$", "", line)))
    return lines


def service_knowledge_outside(scripts: Path, service_files: Path, services: list[str]) -> list[str]:
    """Each line of a shell file under SCRIPTS, but SERVICE_FILES, that
    names a service in a case pattern or calls a service's function."""
    functions = set()
    for path in service_files.glob("*.sh"):
        functions |= set(DEFINITION.findall(path.read_text()))
    prefixes = tuple(f"{service}_" for service in services)
    label = case_pattern(services)
    found = []
    for path in sorted(scripts.rglob("*.sh")):
        if service_files in path.parents:
            continue
        for number, line in code_lines(path):
            where = f"{path.relative_to(scripts.parent)}:{number}"
            if label.search(line):
                found.append(f"{where} names a service in a case branch: {line.strip()}")
            for word in sorted(calls(line)):
                if word in functions or word.startswith(prefixes):
                    found.append(f"{where} calls {word} directly (use service_hook)")
    return found


def test_every_builtin_service_has_its_file_and_every_file_its_service():
    files = sorted(path.stem for path in SERVICE_FILES.glob("*.sh"))
    assert files == sorted(builtin_services())
    sourced = re.findall(r'^source "\$_lib_dir/services/([^"]+)\.sh"', (SCRIPTS / "lib" / "all.sh").read_text(), re.M)
    assert sorted(sourced) == files, "scripts/lib/all.sh must source every file of scripts/lib/services/"


def test_every_service_file_says_what_it_is_and_defines_only_its_own_functions():
    for path in SERVICE_FILES.glob("*.sh"):
        header = path.read_text().splitlines()[1]
        assert header.startswith("# ") and f'"{path.stem}"' in header, f"{path.name} does not start by naming its service"
        strangers = [name for name in DEFINITION.findall(path.read_text()) if not name.startswith(f"{path.stem}_")]
        assert not strangers, f"{path.name} defines functions not named {path.stem}_...: {strangers}"


def test_no_file_outside_the_service_files_knows_a_service():
    found = service_knowledge_outside(SCRIPTS, SERVICE_FILES, builtin_services())
    assert not found, "service knowledge outside scripts/lib/services/:\n" + "\n".join(found)


def test_the_check_finds_a_planted_case_branch_and_a_direct_call(tmp_path):
    scripts = tmp_path / "scripts"
    (scripts / "lib" / "services").mkdir(parents=True)
    (scripts / "lib" / "services" / "redis.sh").write_text("redis_probe() {\n    :\n}\nredis_helper() {\n    :\n}\n")
    (scripts / "lib" / "health.sh").write_text(
        'probe() {\n    case "$1" in\n        redis) redis_probe ;;\n        "postgres" | x) x=$(redis_helper) ;;\n'
        '        *) service_hook "$1" probe ;;\n    esac\n    port_of redis\n}\n')
    (scripts / "psql.sh").write_text("usage() {\n    cat <<EOF\n  redis) the cache\nEOF\n}\n# redis_probe\n")
    found = service_knowledge_outside(scripts, scripts / "lib" / "services", ["postgres", "redis"])
    assert found == [
        "scripts/lib/health.sh:3 names a service in a case branch: redis) redis_probe ;;",
        "scripts/lib/health.sh:3 calls redis_probe directly (use service_hook)",
        'scripts/lib/health.sh:4 names a service in a case branch: "postgres" | x) x=$(redis_helper) ;;',
        "scripts/lib/health.sh:4 calls redis_helper directly (use service_hook)",
    ]

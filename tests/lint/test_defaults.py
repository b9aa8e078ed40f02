"""Every setting's default is written once, in scripts/lib/defaults.sh.

docker-compose.yml and deploy/swarm/stack.yml must repeat defaults as
${NAME:-default} (Compose typed by hand reads them, not the scripts), and
.env.infra.example shows them: all must agree with the table, or a stack
started by hand would differ from one started by the scripts. In the scripts
themselves a default is only ever read through `setting NAME`.
"""

from __future__ import annotations

import re
from pathlib import Path

from support.engine import REPO_ROOT

DEFAULTS_FILE = REPO_ROOT / "scripts" / "lib" / "defaults.sh"
ENTRY = re.compile(r"^\s*\[([A-Z_][A-Z0-9_]*)\]=(\S*)\s*$", re.M)
# ${NAME:-default} with a non-empty default, as Compose and bash write it.
DEFAULTED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]+)\}")
CONFIGURATIONS = ("docker-compose.yml", "deploy/swarm/stack.yml")


def table(path: Path = DEFAULTS_FILE) -> dict[str, str]:
    return dict(ENTRY.findall(path.read_text()))


def disagreements(defaults: dict[str, str], text: str, where: str) -> list[str]:
    """Each ${NAME:-value} of TEXT whose value is not the table's."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        for name, value in DEFAULTED.findall(line):
            if defaults.get(name) != value:
                found.append(f"{where}:{number}: ${{{name}:-{value}}}, but scripts/lib/defaults.sh has "
                             f"{defaults.get(name, 'no default')!s}")
    return found


def test_compose_files_repeat_the_defaults_of_the_table():
    defaults = table()
    found = []
    for relative in CONFIGURATIONS:
        found += disagreements(defaults, (REPO_ROOT / relative).read_text(), relative)
    assert not found, "\n".join(found)


def test_the_scripts_read_defaults_only_through_setting():
    found = []
    for path in sorted((REPO_ROOT / "scripts").rglob("*.sh")):
        if path.is_symlink() or path == DEFAULTS_FILE:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for name, value in DEFAULTED.findall(line):
                if name.isupper():
                    found.append(f"{path.relative_to(REPO_ROOT)}:{number}: ${{{name}:-{value}}}; "
                                 f"use $(setting {name}) and scripts/lib/defaults.sh")
    assert not found, "\n".join(found)


def test_the_example_env_file_shows_the_defaults():
    defaults = table()
    found = []
    for line in (REPO_ROOT / ".env.infra.example").read_text().splitlines():
        match = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if match and match.group(1) in defaults and match.group(2) != defaults[match.group(1)]:
            found.append(f"{line} (default: {defaults[match.group(1)]})")
    assert not found, "\n".join(found)


def test_a_planted_disagreement_is_named(tmp_path):
    assert disagreements({"POSTGRES_USER": "transbot_user"}, 'user: "${POSTGRES_USER:-postgres}"\n', "x.yml") == [
        "x.yml:1: ${POSTGRES_USER:-postgres}, but scripts/lib/defaults.sh has transbot_user"]
    assert disagreements({}, 'port: ${NEW_PORT:-1}\n', "x.yml") == [
        "x.yml:1: ${NEW_PORT:-1}, but scripts/lib/defaults.sh has no default"]

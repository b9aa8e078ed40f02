"""The two READMEs show the same commands, and the English one stays short.

TransBot's team reads README.ko.md; it covers README.md's first screen (what
it is, prerequisites, the two set-up commands, where to connect, everyday
commands) and its troubleshooting table. A command changed in one and not in
the other sends one reader to a command that no longer exists.

A *command* is a piece of code in a document that runs one of the
repository's scripts: a line of a fenced code block, or an inline `code`
span, that contains `./scripts/` or `./tests/`. A line's trailing `# comment`
is dropped and runs of spaces count as one, so comments can be translated.

- Every command of README.ko.md is a command of README.md.
- Every command of README.md's first screen (everything before
  "## Detailed usage") and of its "## Troubleshooting" section is a command
  of README.ko.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from support.engine import REPO_ROOT

README = REPO_ROOT / "README.md"
README_KO = REPO_ROOT / "README.ko.md"
# The README is for people who run the stack; detail goes to CONTRIBUTING.md
# and docs/. 14 KiB is the hard limit, about 12 KiB the aim.
README_LIMIT = 14336

FIRST_SCREEN_ENDS = "## Detailed usage"
TROUBLESHOOTING = "## Troubleshooting"

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
COMMENT = re.compile(r"\s+#\s.*$")
RUNS_A_SCRIPT = re.compile(r"\./(?:scripts|tests)/")


def _normalised(text: str) -> str:
    return " ".join(text.split())


def commands(markdown: str) -> set[str]:
    """The commands shown in a piece of markdown (see the module's docstring)."""
    found = set()
    for block in FENCE.findall(markdown):
        for line in block.splitlines():
            line = COMMENT.sub("", line)
            if RUNS_A_SCRIPT.search(line):
                found.add(_normalised(line))
    for span in INLINE.findall(FENCE.sub("", markdown)):
        if RUNS_A_SCRIPT.search(span):
            found.add(_normalised(span))
    return found


def section(markdown: str, heading: str) -> str:
    """The text under HEADING (a whole `## ` line) up to the next `## ` heading."""
    match = re.search(rf"^{re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    assert match, f"README.md has no section {heading!r}"
    return match.group(1)


def first_screen(markdown: str) -> str:
    assert f"\n{FIRST_SCREEN_ENDS}\n" in markdown, f"README.md has no {FIRST_SCREEN_ENDS!r}"
    return markdown.split(f"\n{FIRST_SCREEN_ENDS}\n", 1)[0]


def missing_from_korean(english: str, korean: str) -> list[str]:
    shown = first_screen(english) + section(english, TROUBLESHOOTING)
    return sorted(commands(shown) - commands(korean))


def missing_from_english(english: str, korean: str) -> list[str]:
    return sorted(commands(korean) - commands(english))


def test_every_command_of_the_korean_readme_is_in_the_readme():
    missing = missing_from_english(README.read_text(encoding="utf-8"), README_KO.read_text(encoding="utf-8"))
    assert not missing, "README.ko.md shows commands README.md does not:\n" + "\n".join(missing)


def test_the_readmes_first_screen_and_troubleshooting_commands_are_in_the_korean_readme():
    missing = missing_from_korean(README.read_text(encoding="utf-8"), README_KO.read_text(encoding="utf-8"))
    assert not missing, ("README.md's first screen or troubleshooting shows commands README.ko.md does not:\n"
                         + "\n".join(missing))


def test_both_readmes_open_with_the_two_set_up_commands():
    for path in (README, README_KO):
        first_block = FENCE.search(path.read_text(encoding="utf-8"))
        assert first_block, f"{path.name} has no code block"
        shown = commands(first_block.group(0))
        assert shown == {"./scripts/start.sh", "./tests/run.sh"}, f"{path.name}'s first code block: {sorted(shown)}"


def test_the_readme_stays_under_14_kib():
    size = len(README.read_bytes())
    assert size < README_LIMIT, (f"README.md has {size} bytes, the limit is {README_LIMIT}: move detail to "
                                 "CONTRIBUTING.md or docs/")


# The checks themselves: a difference planted in either direction is found.

ENGLISH = """# T

```sh
./scripts/start.sh     # runs the stack
./tests/run.sh
```

## Detailed usage

`./scripts/backup.sh` only here.

## Troubleshooting

| `port in use` | `POSTGRES_PORT=5433  ./scripts/start.sh` |

## Engines
`./scripts/psql.sh` is not on the first screen.
"""

KOREAN = """# T

```sh
./scripts/start.sh     # 스택 실행
./tests/run.sh
```

| `port in use` | `POSTGRES_PORT=5433 ./scripts/start.sh` |
"""


def test_the_check_finds_a_command_missing_from_the_korean_readme():
    assert missing_from_korean(ENGLISH, KOREAN) == []
    assert missing_from_english(ENGLISH, KOREAN) == []
    changed = ENGLISH.replace("./tests/run.sh\n", "./tests/run.sh -q\n")
    assert missing_from_korean(changed, KOREAN) == ["./tests/run.sh -q"]
    # Outside the first screen and troubleshooting, English may show more.
    assert "./scripts/backup.sh" in commands(ENGLISH) and "./scripts/psql.sh" in commands(ENGLISH)


def test_the_check_finds_a_command_the_readme_does_not_show():
    planted = KOREAN + "\n```sh\n./scripts/logs.sh --follow   # 없는 옵션\n```\n"
    assert missing_from_english(ENGLISH, planted) == ["./scripts/logs.sh --follow"]

""".env.infra is read by the scripts exactly as Compose reads it, or refused.

Generated env files (keys, export prefixes, blanks, comments, both kinds of
quotes, backslashes and escapes, #, =, $, tabs, non-ASCII text, Unicode
spaces, control characters, byte-order marks, duplicates, bytes that are not
UTF-8) are read by the scripts' own reader (tests/support/load_env.sh). When
it accepts a file, Compose v2 (`docker compose --env-file FILE config`) and
Compose v1 (its env-file reader) must read exactly the same variables with
the same values. When it refuses one, the message must be one line naming
the line, with exit 1 and no value in it.

Bounded and deterministic for CI: 150 derandomized examples of two files
each, no example database. Issue 13's cases and one file per rule follow as
plain tests, each also showing how Compose reads that line.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.engine import compose_variants, unavailable
from support.env_readers import (
    UNSET,
    ComposeV1Reader,
    ScriptsReader,
    candidate_keys,
    compose_v1_python,
    read_with_compose_v1_cli,
    read_with_compose_v2,
)

EXAMPLES = 150
FILES_PER_EXAMPLE = 2

# --- Generated env files ---------------------------------------------------------
#
# A file is a few context lines, which every reader should read alike, and
# usually one probe: a hazard, where some reader may read the file otherwise
# (a value holding an escape or a character that matters where it stands, an
# odd key, a variable set twice, a byte-order mark, a byte that is not
# UTF-8...). Hypothesis draws the seed; a plain random.Random draws the
# files, because Hypothesis' own draws favour a few choices and repeat whole
# examples, while every probe should come up several times in a bounded run.

KEYS = ["K1", "K2", "K3", "POSTGRES_PASSWORD", "REDIS_PORT", "_k", "lower9"]
ODD_KEYS = ["exportK", "export", "a.b", "1K", "K-1", "K K", "é"]
KINDS = ["unquoted", "single", "double"]
# Text every reader keeps as it is where it stands (repeated: more often).
PLAIN = [*"abcXYZ0189", "_", "-", ".", ",", ":", "/", "@", "%", "+", "é", "日本", "€", "ß", " ", " "]
CLEAN = {
    "unquoted": PLAIN + ["=", "#", "\\", "\\n", "'", '"', "\t"],
    "single": PLAIN + ["=", "#", " # ", '"', "\t", "\\n", "\\x", "$K1", "$(", "$", "\\ "],
    "double": PLAIN + ["=", "#", " # ", "'", "\t", "\\\\", '\\"', "\\x", "\\#", "\\é", "\\ "],
}
# Hazards inside a value, by the value's kind; each is one probe.
HAZARDS = {
    "unquoted": [" #", "\t#", " \t#", "$K1", "\\$"],
    "single": ["\\'", "\\\\", "\\", "${", "${K1:-x}"],
    "double": ["\\n", "\\t", "\\r", "\\a", "\\b", "\\f", "\\v", "\\'", "\\$", "\\", "\\\\"],
}
# Hazards in any kind of value, one probe per group.
ANYWHERE = {
    "unicode space": ["\u00a0", "\u2003", "\u3000", "\u0085"],
    "control character": ["\x0b", "\x1c", "\x7f", "\r"],
    "nul": ["\x00"],
    "dollar": ["$", "${K1}"],
    "bom in a value": ["\ufeff"],
}
# Hazards of the whole file or of a line.
WHOLE = ["odd key", "set twice", "bom", "bom later", "not utf-8", "odd line", "export as a name",
         "text after quote", "crlf"]
# Every probe: (where, kind of value or None, name, hazards to choose from).
PROBES = ([("value", kind, f"{kind} {hazard}", [hazard]) for kind, hazards in HAZARDS.items() for hazard in hazards]
          + [("anywhere", None, name, hazards) for name, hazards in ANYWHERE.items()]
          + [("file", None, name, []) for name in WHOLE])
COMMENTS = ["", " ", "\t", "# a comment", "  # indented comment", "#", "#no space",
            "# comment with 'quote', \"quote\", \\ and $dollar"]
ODD_LINES = ["not a setting", "K1", "export K2", "K1: yes", "=x", "K1='open", 'K2="open', "[section]"]


def any_character(rnd: random.Random) -> str:
    while True:
        character = chr(rnd.choice([rnd.randrange(0x20, 0x7f), rnd.randrange(0xa0, 0x800),
                                    rnd.randrange(0x800, 0x10000), rnd.randrange(0x10000, 0x110000)]))
        if unicodedata.category(character)[0] not in "CZ":
            return character


def clean_text(rnd: random.Random, kind: str) -> str:
    return "".join(any_character(rnd) if rnd.random() < 0.1 else rnd.choice(CLEAN[kind])
                   for _ in range(rnd.randrange(7)))


def value(rnd: random.Random, kind: str, hazard: str | None = None) -> str:
    """The text after `KEY=`: blanks, then an unquoted, 'single' or "double"
    quoted value holding HAZARD at its end or anywhere, then for a quoted
    one blanks or a comment."""
    body = clean_text(rnd, kind)
    if hazard is not None:
        at = len(body) if rnd.random() < 0.4 else rnd.randrange(len(body) + 1)
        body = body[:at] + hazard + body[at:]
    before = rnd.choice(["", "", "", " ", "\t", "  "])
    if kind == "unquoted":
        return before + body
    quote = "'" if kind == "single" else '"'
    return before + quote + body + quote + rnd.choice(["", "", "", "", " ", "\t", " # note", "#note", "\t# note"])


def assignment(rnd: random.Random, key: str, kind: str | None = None, hazard: str | None = None) -> str:
    indent = rnd.choice(["", "", "", " ", "\t"])
    export = rnd.choice(["", "", "", "export ", "export\t", "export  "])
    around = rnd.choice(["", "", "", " ", "\t"])
    return f"{indent}{export}{key}{around}={value(rnd, kind or rnd.choice(KINDS), hazard)}"


def env_file(rnd: random.Random, turn: int | None = None) -> tuple[bytes, tuple[str, ...]]:
    """A file, and the names of the probes in it. A turn (the file's number
    in the run) puts probe number turn (round robin) in the file, so that
    every hazard is tried several times, not only when the dice say so."""
    keys = rnd.sample(KEYS, rnd.randrange(1, 5))
    lines = [assignment(rnd, key) for key in keys]
    for _ in range(rnd.choice([0, 0, 1, 2])):
        lines.insert(rnd.randrange(len(lines) + 1), rnd.choice(COMMENTS))
    probes = rnd.sample(PROBES, rnd.choice([0, 1, 1, 1, 1, 2]))
    if turn is not None and turn % 2 == 0:
        chosen = PROBES[(turn // 2) % len(PROBES)]
        probes = [chosen] + [probe for probe in probes if probe != chosen][:1]
    for number, (where, kind, name, hazards) in enumerate(probes, 4):
        at = rnd.randrange(len(lines) + 1)
        if where != "file":
            lines.insert(at, assignment(rnd, f"K{number}", kind or rnd.choice(KINDS), rnd.choice(hazards)))
        elif name == "odd key":
            lines.insert(at, assignment(rnd, rnd.choice(ODD_KEYS)))
        elif name == "set twice":
            lines.insert(at, assignment(rnd, rnd.choice(keys)))
        elif name == "bom later":
            lines.insert(max(at, 1), "\ufeff" + assignment(rnd, f"K{number}"))
        elif name == "odd line":
            lines.insert(at, rnd.choice(ODD_LINES))
        elif name == "export as a name":
            lines.insert(at, f"export{rnd.choice(['', ' ', '  ', chr(9)])}={value(rnd, rnd.choice(KINDS))}")
        elif name == "text after quote":
            quoted = assignment(rnd, f"K{number}", rnd.choice(["single", "double"]))
            lines.insert(at, quoted + rnd.choice([" x", "x", " K9=y"]))
    data = ("\n".join(lines) + rnd.choice(["\n", "\n", "\n", ""])).encode()
    whole = {name for where, _, name, _ in probes if where == "file"}
    if "crlf" in whole:
        data = data.replace(b"\n", b"\r\n")
    if "bom" in whole:
        data = b"\xef\xbb\xbf" + data
    if "not utf-8" in whole:  # at the end of a line, or anywhere
        ends = [match.start() for match in re.finditer(b"\n", data)] or [len(data)]
        at = rnd.choice(ends) if rnd.random() < 0.7 else rnd.randrange(len(data) + 1)
        data = data[:at] + rnd.choice([b"\xff", b"\xc3", b"\xe2\x80", b"\xed\xa0\x80"]) + data[at:]
    return data, tuple(name for _, _, name, _ in probes)


# --- Comparing the readers -------------------------------------------------------


def refusal_problems(data: bytes, stderr: str, returncode: int) -> list[str]:
    """What is wrong with the scripts' message refusing DATA, if anything."""
    problems = []
    if returncode != 1:
        problems.append(f"exit {returncode}, not 1")
    lines = stderr.strip().splitlines()
    if len(lines) != 1 or not lines[0].startswith("error: .env.infra "):
        problems.append("not one 'error: .env.infra ...' line")
    if "internal error" in stderr:
        problems.append("internal error")
    if not re.search(r"\.env\.infra (line \d+|lines \d+ and \d+|has Windows)", stderr):
        problems.append("no line number")
    for raw in re.findall(rb"=(.*)", data):
        value = raw.decode("utf-8", "replace").strip().strip("'\"")
        if len(value) >= 8 and value in stderr:
            problems.append("a value is printed")
    return problems


def compare(data: bytes, folder: Path, readers: tuple[ScriptsReader, ComposeV1Reader]) -> str:
    """'accepted' or 'refused'; raises AssertionError where the scripts and
    Compose disagree."""
    path = folder / ".env.infra"
    path.write_bytes(data)
    scripts = readers[0].read(path)
    if scripts.refused:
        problems = refusal_problems(data, scripts.stderr, scripts.returncode)
        assert not problems, f"{data!r}: {problems}: {scripts.stderr}"
        return "refused"
    seen = f"{data!r}: the scripts read {scripts.env}"

    v2 = read_with_compose_v2(path, candidate_keys(data, *scripts.env))
    assert not v2.refused, f"{seen}, but Compose v2 refuses the file: {v2.error}"
    assert v2.env == scripts.env, f"{seen}, Compose v2 (env_file:) {v2.env}"
    expected = {key: scripts.env.get(key, UNSET) for key in v2.interpolated}
    assert v2.interpolated == expected, f"{seen}, Compose v2 (--env-file) {v2.interpolated}"

    old = readers[1].read(path)
    assert old.env == scripts.env, f"{seen}, Compose v1 {old.env} {old.error}"
    return "accepted"


@pytest.fixture(scope="module")
def readers():
    """The scripts' reader and Compose v1's, each one long-lived process."""
    if isinstance(compose_variants()["v2"], str):
        unavailable(f"Compose v2: {compose_variants()['v2']}")
    python = compose_v1_python()
    if python is None:
        unavailable("Compose v1 (docker-compose 1.29, a Python program) is not installed")
    scripts, v1 = ScriptsReader(), ComposeV1Reader(python)
    yield scripts, v1
    scripts.close()
    v1.close()


def test_generated_env_files_are_read_as_compose_reads_them_or_refused(readers, tmp_path):
    outcomes: Counter[str] = Counter()
    probes: Counter[str] = Counter()
    known: dict[bytes, str] = {}

    # Hypothesis gives the seed, the same ones on every run once
    # derandomized; a true-random generator would make the hazards' counts
    # (asserted below) differ from run to run.
    turns = iter(range(10**9))

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.integers(min_value=0, max_value=2**32 - 1))
    def check(seed: int) -> None:
        rnd = random.Random(seed)
        for data, names in (env_file(rnd, next(turns)) for _ in range(FILES_PER_EXAMPLE)):
            if data not in known:
                known[data] = compare(data, tmp_path, readers)
                probes.update(names)
            outcomes[known[data]] += 1

    check()
    total = sum(outcomes.values())
    print(f"env files: {dict(outcomes)} of {total}; probes: {dict(probes)}")
    # The run proves something only if it accepted and refused many files,
    # and tried every hazard several times.
    assert outcomes["accepted"] >= 0.12 * total and outcomes["refused"] >= 0.5 * total, outcomes
    rare = {name: probes[name] for _, _, name, _ in PROBES if probes[name] < 3}
    assert not rare, f"hazards tried fewer than 3 times: {rare}"


# --- Issue 13's cases, and every other rule, one file each --------------------------

# case: (file, what the message must say, why the scripts cannot take it:
# a test on (Compose v2's reading, Compose v1's), or None)
REFUSED = {
    "duplicate-key": (
        b"POSTGRES_PORT=5432\nK1=x\nPOSTGRES_PORT=25441\n",
        ["line", "lines 1 and 3 both set POSTGRES_PORT", "Compose would use the last one", "delete"],
        lambda v2, v1: v2["POSTGRES_PORT"] == v1["POSTGRES_PORT"] == "25441"),
    "double-quoted-newline": (
        b'K1="first\\nsecond"\n',
        ["line 1 (K1)", "Compose turns \\n into a line break", "write \\\\n"],
        lambda v2, v1: v2["K1"] == v1["K1"] == "first\nsecond"),
    "double-quoted-tab": (
        b'K1="a\\tb"\n', ["line 1 (K1)", "\\t into a tab"], lambda v2, v1: v2["K1"] == v1["K1"] == "a\tb"),
    "byte-order-mark": (
        b"\xef\xbb\xbf# settings\nK1=x\n",
        ["line 1 starts with a UTF-8 byte-order mark (BOM)", "sed -i 's/^\\xEF\\xBB\\xBF//' .env.infra"], None),
    "byte-order-mark-later": (
        b"K1=x\n\xef\xbb\xbfK2=y\n", ["line 2 starts with a UTF-8 byte-order mark"],
        lambda v2, v1: v2 is None and "\ufeffK2" in v1),
    "single-quoted-backslash-pair": (
        b"K1='a\\\\b'\n", ["line 1 (K1)", "single-quoted", "\\\\", "use double quotes"],
        lambda v2, v1: v2["K1"] == "a\\\\b" and v1["K1"] == "a\\b"),
    "single-quoted-final-backslash": (
        b"K1='abc\\'\n", ["line 1 (K1)", "end in a backslash"], lambda v2, v1: v2 is None),
    "single-quoted-escaped-quote": (b"K1='it\\'s'\n", ["line 1 (K1)", "\\'"], None),
    "single-quoted-braces": (
        b"K2=b\nK1='a${K2}'\n", ["line 2 (K1)", "Compose v1 expands ${...} even in single quotes"],
        lambda v2, v1: v2["K1"] == "a${K2}" and v1["K1"] == "ab"),
    "double-quoted-escaped-single-quote": (
        b'K1="it\\\'s"\n', ["line 1 (K1)", "v1 reads \\' as '"],
        lambda v2, v1: v2["K1"] == "it\\'s" and v1["K1"] == "it's"),
    "double-quoted-final-backslash": (
        b'K1="a\\\\"\nK2="b"\n', ["line 1 (K1)", "cannot end in a backslash", "unquoted"],
        lambda v2, v1: v2["K1"] == "a\\" and v1.get("K1") != "a\\"),
    "double-quoted-dollar": (b'K1="a$K2"\n', ["line 1 (K1)", "Compose would expand the $"], None),
    "unquoted-dollar": (b"K1=a$K2\n", ["line 1 (K1)", "Compose would expand the $"], None),
    "tab-before-hash": (
        b"K1=abc\t#note\n", ["line 1 (K1)", "tab followed by #"],
        lambda v2, v1: v2["K1"] == "abc\t#note" and v1["K1"] == "abc"),
    "unicode-space": (
        b"K1=\xe2\x80\x83abc\n", ["line 1 (K1)", "Unicode space"],
        lambda v2, v1: v2["K1"] == "\u2003abc" and v1["K1"] == "abc"),
    "control-character": (
        b"K1=abc\x1c\n", ["line 1 (K1)", "control character"],
        lambda v2, v1: v2["K1"] == "abc\x1c" and v1["K1"] == "abc"),
    "nul-byte": (b"K1=ab\x00cd\n", ["line 1 (K1)", "control character"], None),
    "not-utf8": (b"K1=x\nK2=\xff\n", ["line 2 (K2)", "not valid UTF-8"], lambda v2, v1: v1 is None),
    "export-as-a-name": (
        b"export =1\n", ["line 1", "cannot be called export"], lambda v2, v1: v2 == {"": "1"} and v1 == {}),
    "crlf": (b"K1=a\r\nK2=b\r\n", ["Windows (CRLF) line endings", "sed -i"], None),
    "unclosed-quote": (b"K1='abc\nK2=x'\n", ["line 1 (K1)", "the single quote is not closed"], None),
    "text-after-quote": (
        b"K1='abc' K2=x\n", ["line 1 (K1)", "text follows the closing quote"],
        lambda v2, v1: v2.get("K2") == "x" and "K2" not in v1),
    "not-key-value": (b"K1=x\nK2\n", ["line 2 is not KEY=VALUE"], None),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_line_compose_reads_otherwise_is_refused_with_the_reason(readers, tmp_path, case):
    data, needles, why = REFUSED[case]
    path = tmp_path / ".env.infra"
    path.write_bytes(data)
    scripts = readers[0].read(path)
    assert scripts.refused, f"accepted: {scripts.env}"
    for needle in needles:
        assert needle in scripts.error, f"{needle!r} not in: {scripts.error}"
    assert not refusal_problems(data, scripts.stderr, scripts.returncode), scripts.stderr
    assert path.read_bytes() == data
    if why is not None:
        v2 = read_with_compose_v2(path, candidate_keys(data))
        v1 = readers[1].read(path)
        assert why(v2.env, v1.env), f"Compose v2 read {v2.env or v2.error}, v1 {v1.env or v1.error}"


# What the scripts accept: file -> every variable and its value, for all three.
ACCEPTED = {
    "hostile-single-quoted": (b"K1='p w\"$#@:/?&%\\\xc3\xa9\xe2\x82\xac'\n", {"K1": 'p w"$#@:/?&%\\é€'}),
    "hostile-double-quoted": (b'K1="r \'q\' #@:/ \\"z\\\\y"\nK2="x"\n', {"K1": "r 'q' #@:/ \"z\\y", "K2": "x"}),
    "export-blanks-comment": (b"  export\tK1 = plain value  # a comment\n", {"K1": "plain value"}),
    "hash-without-blank": (b"K1=a#b\nK2=#c\nK3= #d\n", {"K1": "a#b", "K2": "#c", "K3": "#d"}),
    "backslashes-kept": (b"K1=a\\nb\nK2='a\\nb'\nK3=\"a\\xb\\\\nc\"\n",
                         {"K1": "a\\nb", "K2": "a\\nb", "K3": "a\\xb\\nc"}),
    "empty-values": (b"K1=\nK2=''\nK3=\"\" # none\n", {"K1": "", "K2": "", "K3": ""}),
    "comments-after-quotes": (b"K1='x'#c\nK2=\"y\"\t# c\n", {"K1": "x", "K2": "y"}),
    "tab-then-space-hash": (b"K1=a\t #b\n", {"K1": "a"}),
    "name-starting-with-export": (b"exportK=1\n", {"exportK": "1"}),
    "dollar-in-single-quotes": (b"K1='$K2 $$ $(x)'\n", {"K1": "$K2 $$ $(x)"}),
    "no-final-newline": (b"# c\n\nK1=last", {"K1": "last"}),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_an_accepted_file_reads_the_same_for_the_scripts_and_both_composes(readers, tmp_path, case):
    data, expected = ACCEPTED[case]
    assert compare(data, tmp_path, readers) == "accepted"
    assert readers[0].read(tmp_path / ".env.infra").env == expected


def test_the_compose_v1_reader_gives_what_docker_compose_config_prints(readers, tmp_path):
    """The differential test calls Compose v1's reader directly, for speed:
    the real command line must agree with it (on every accepted case at once,
    each variable renamed after its case)."""
    lines = []
    for case, (data, _) in sorted(ACCEPTED.items()):
        prefix = case.replace("-", "_").upper().encode()
        lines.append(re.sub(rb"(?m)^(\s*(?:export\s+)?)K(\d)", rb"\1" + prefix + rb"_\2", data).rstrip(b"\n"))
    path = tmp_path / ".env.infra"
    path.write_bytes(b"\n".join(lines) + b"\n")
    direct = readers[1].read(path).env
    assert direct and len(direct) == sum(len(expected) for _, expected in ACCEPTED.values())
    assert read_with_compose_v1_cli(path, list(direct)) == direct

"""A developer's .env.infra: created on a fresh clone, or hand-edited and wrong.

Journey: on a fresh clone `./scripts/start.sh` creates .env.infra (0600)
with every placeholder replaced by a fresh secret, says so without showing a
single value, and never overwrites it afterwards. A hand-copied example, a
missing or empty secret, a bad port, a password Langfuse cannot use in its
database URL, a `$` Compose would expand, Windows line endings, a variable
set twice, a byte-order mark or an escape Compose reads otherwise each stop
the script with exit 1 naming the variable (never its value), leave the
file byte for byte as it was, and start nothing. A variable exported in the
shell wins over the file. (tests/lint/test_env_differential.py compares the
reading with Compose's own.)
"""

from __future__ import annotations

import os
import re
import stat
import subprocess

import pytest

from .harness import (
    ENV_CHECKING_SCRIPTS, EXAMPLE_TEXT, PLACEHOLDER, SECRET_NAMES, parse_env,
)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")


def start_fresh(harness):
    return harness.run("start.sh", "--no-wait", env=harness.free_ports_env())


# --- Creation -----------------------------------------------------------------


def test_start_on_a_fresh_clone_creates_a_private_env_file_with_generated_secrets(harness):
    assert not harness.env_file.exists()
    result = start_fresh(harness)
    assert result.returncode == 0, result

    assert stat.S_IMODE(harness.env_file.stat().st_mode) == 0o600
    text = harness.env_file.read_text()
    assert not re.search(rf"^[A-Za-z_0-9]+={PLACEHOLDER}$", text, re.M), "a placeholder is left"
    values = parse_env(text)
    assert set(SECRET_NAMES) <= set(values)
    assert re.fullmatch(r"[0-9a-f]{64}", values["LANGFUSE_ENCRYPTION_KEY"])
    assert re.fullmatch(rf"pk-lf-{UUID}", values["LANGFUSE_PUBLIC_KEY"])
    assert re.fullmatch(rf"sk-lf-{UUID}", values["LANGFUSE_SECRET_KEY"])
    for name in SECRET_NAMES:
        assert URL_SAFE.match(values[name]), f"{name} is not URL-safe"
        assert len(values[name]) >= 32, f"{name} is too short to be a generated secret"
    assert len({values[name] for name in SECRET_NAMES}) == len(SECRET_NAMES), "secrets must differ"

    assert f"Created .env.infra with {len(SECRET_NAMES)} generated secrets" in result.stdout
    assert "values not shown" in result.stdout
    for value in (values[name] for name in SECRET_NAMES):
        assert value not in result.output
    assert len(harness.compose_up_calls()) == 1


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_created_env_file_is_private_whatever_the_umask(harness, umask):
    result = harness.run("start.sh", "--no-wait", env=harness.free_ports_env(), umask=umask)
    assert result.returncode == 0, result
    assert stat.S_IMODE(harness.env_file.stat().st_mode) == 0o600
    assert "readable by others" not in result.stderr


def test_created_env_file_differs_from_the_example_only_in_the_secrets(harness):
    assert start_fresh(harness).returncode == 0
    created = harness.env_file.read_text().splitlines()
    example = (harness.repo / ".env.infra.example").read_text().splitlines()
    assert len(created) == len(example)
    for mine, theirs in zip(created, example):
        if theirs.endswith(f"={PLACEHOLDER}"):
            assert mine.split("=", 1)[0] == theirs.split("=", 1)[0]
        else:
            assert mine == theirs
    leftovers = [path.name for path in harness.repo.iterdir() if path.name.startswith(".env.infra.")]
    assert leftovers == [".env.infra.example"], "temporary files were left behind"


def test_each_fresh_clone_gets_its_own_secrets(harness):
    assert start_fresh(harness).returncode == 0
    first = parse_env(harness.env_file.read_text())
    harness.env_file.unlink()
    assert start_fresh(harness).returncode == 0
    second = parse_env(harness.env_file.read_text())
    assert all(first[name] != second[name] for name in SECRET_NAMES)


def test_second_start_never_overwrites_the_env_file(harness):
    assert start_fresh(harness).returncode == 0
    created = harness.env_file.read_bytes()
    again = start_fresh(harness)
    assert again.returncode == 0, again
    assert harness.env_file.read_bytes() == created
    assert "Created .env.infra" not in again.output


def test_an_existing_valid_env_file_is_used_as_it_is(harness):
    written = harness.write_env({"POSTGRES_USER": "someone_else", "REDIS_PASSWORD": "'my own secret'"})
    result = harness.run("start.sh", "--no-wait")
    assert result.returncode == 0, result
    assert harness.env_file.read_bytes() == written
    assert "Created" not in result.output


def test_usage_error_on_a_fresh_clone_does_not_create_the_env_file(harness):
    result = harness.run("start.sh", "--no-wait", "--bogus")
    assert result.returncode == 2, result
    assert sorted(path.name for path in harness.repo.glob(".env.infra*")) == [".env.infra.example"]


def test_health_check_on_a_fresh_clone_points_at_start(harness):
    result = harness.run("health-check.sh")
    assert result.returncode == 1, result
    assert ".env.infra does not exist yet; run ./scripts/start.sh" in result.stderr
    assert not harness.env_file.exists()
    assert harness.calls() == []


# --- Refusing a file the stack cannot use -------------------------------------


def names(text: str, variable: str) -> bool:
    """Whether TEXT names VARIABLE (not just a longer name starting with it)."""
    return re.search(rf"(?<![A-Za-z0-9_]){variable}(?![A-Za-z0-9_])", text) is not None


def assert_refused(harness, result, written: bytes, *needles: str, variables: tuple[str, ...] = ()):
    assert result.returncode == 1, result
    for needle in needles:
        assert needle in result.stderr, f"{needle!r} not in stderr:\n{result}"
    for variable in variables:
        assert names(result.stderr, variable), f"{variable} is not named:\n{result}"
    assert harness.env_file.read_bytes() == written, ".env.infra must be left as it was"
    assert harness.compose_up_calls() == []
    assert "internal error" not in result.stderr


@pytest.mark.parametrize("script", ENV_CHECKING_SCRIPTS)
def test_hand_copied_example_names_every_placeholder_and_init_env(harness, script):
    written = (harness.repo / ".env.infra.example").read_bytes()
    harness.env_file.write_bytes(written)
    harness.env_file.chmod(0o644)  # what `cp .env.infra.example .env.infra` gives
    result = harness.run(script)
    assert_refused(harness, result, written, ".env.infra cannot be used as it is", f"placeholder '{PLACEHOLDER}'",
                   "./scripts/init-env.sh", variables=tuple(SECRET_NAMES))
    assert harness.calls() == [], "docker must not be called before .env.infra is usable"


def test_hand_copied_example_is_made_private(harness):
    harness.env_file.write_bytes((harness.repo / ".env.infra.example").read_bytes())
    harness.env_file.chmod(0o644)
    result = harness.run("start.sh")
    assert result.returncode == 1
    assert stat.S_IMODE(harness.env_file.stat().st_mode) == 0o600
    assert "changed it to 0600" in result.stderr


BROKEN_FILES = {
    # case: (changes to a valid file, the variable named, what stderr says of it)
    "secret-missing": ({"REDIS_PASSWORD": None}, "REDIS_PASSWORD", "is missing from .env.infra"),
    "secret-empty": ({"LANGFUSE_SALT": ""}, "LANGFUSE_SALT", "is empty"),
    "secret-quoted-empty": ({"LANGFUSE_SALT": "''"}, "LANGFUSE_SALT", "is empty"),
    "one-placeholder-left": ({"LANGFUSE_SECRET": PLACEHOLDER}, "LANGFUSE_SECRET", "placeholder"),
    "port-zero": ({"POSTGRES_PORT": "0"}, "POSTGRES_PORT", "must be a port number from 1 to 65535"),
    "port-too-big": ({"LANGFUSE_PORT": "70000"}, "LANGFUSE_PORT", "must be a port number from 1 to 65535"),
    "port-text": ({"REDIS_PORT": "abc"}, "REDIS_PORT", "must be a port number from 1 to 65535"),
    "db-password-with-at": ({"LANGFUSE_DB_PASSWORD": "hunter2@secret"}, "LANGFUSE_DB_PASSWORD",
                            "may only hold letters, digits and . _ ~ -"),
    "db-password-with-slash": ({"LANGFUSE_DB_PASSWORD": "'hunter2/secret'"}, "LANGFUSE_DB_PASSWORD",
                               "may only hold letters, digits and . _ ~ -"),
    # Prisma refuses ':' and '&' unencoded in DATABASE_URL's password (P1013).
    "db-password-with-colon": ({"LANGFUSE_DB_PASSWORD": "hunter2:secret"}, "LANGFUSE_DB_PASSWORD",
                               "may only hold letters, digits and . _ ~ -"),
    "db-password-with-ampersand": ({"LANGFUSE_DB_PASSWORD": "hunter2&secret"}, "LANGFUSE_DB_PASSWORD",
                                   "may only hold letters, digits and . _ ~ -"),
    "dollar-unquoted": ({"REDIS_PASSWORD": "abc$defghij"}, "REDIS_PASSWORD", "Compose would expand the $"),
    "dollar-double-quoted": ({"POSTGRES_PASSWORD": '"abc$defghij"'}, "POSTGRES_PASSWORD",
                             "Compose would expand the $"),
    "unclosed-quote": ({"POSTGRES_PASSWORD": "'abcdefghij"}, "POSTGRES_PASSWORD", "the single quote is not closed"),
    "encryption-key-short": ({"LANGFUSE_ENCRYPTION_KEY": "abcdef0123"}, "LANGFUSE_ENCRYPTION_KEY",
                             "must be exactly 64 hex characters"),
    "public-key-colon": ({"LANGFUSE_PUBLIC_KEY": "pk-lf:abcdef"}, "LANGFUSE_PUBLIC_KEY", "must not contain ':'"),
    "admin-password-short": ({"LANGFUSE_ADMIN_PASSWORD": "short"}, "LANGFUSE_ADMIN_PASSWORD",
                             "must be at least 8 characters long"),
    "bind-address-name": ({"BIND_ADDRESS": "localhost"}, "BIND_ADDRESS", "must be an IP address"),
    # Compose v1 would lower-case and strip it, v2 refuse it.
    "project-name-capitals": ({"COMPOSE_PROJECT_NAME": "TransBot.2"}, "COMPOSE_PROJECT_NAME",
                              "must be lower-case letters, digits, - and _"),
    # Lines Compose v1 and v2 would read otherwise (issue 13).
    "double-quoted-newline": ({"REDIS_PASSWORD": '"abcdef\\nghij"'}, "REDIS_PASSWORD",
                              "Compose turns \\n into a line break"),
    "single-quoted-braces": ({"POSTGRES_PASSWORD": "'abc${defghij}'"}, "POSTGRES_PASSWORD",
                             "Compose v1 expands ${...} even in single quotes"),
    "tab-before-hash": ({"REDIS_PASSWORD": "abcdefghij\t#x"}, "REDIS_PASSWORD", "a tab followed by #"),
    "no-break-space": ({"POSTGRES_PASSWORD": "abcdefghij\u00a0"}, "POSTGRES_PASSWORD", "Unicode space"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_FILES))
@pytest.mark.parametrize("script", ENV_CHECKING_SCRIPTS)
def test_broken_env_file_is_refused_naming_the_variable(harness, script, case):
    changes, variable, problem = BROKEN_FILES[case]
    written = harness.write_env(changes)
    result = harness.run(script)
    assert_refused(harness, result, written, problem, variables=(variable,))
    assert harness.calls() == [], "docker must not be called before .env.infra is usable"


@pytest.mark.parametrize("script", ENV_CHECKING_SCRIPTS)
def test_every_problem_is_reported_in_one_run(harness, script):
    written = harness.write_env({"REDIS_PASSWORD": None, "POSTGRES_PORT": "0", "LANGFUSE_SALT": ""})
    result = harness.run(script)
    assert_refused(harness, result, written, "is missing", "must be a port number", "is empty",
                   variables=("REDIS_PASSWORD", "POSTGRES_PORT", "LANGFUSE_SALT"))


def test_rejected_db_password_is_not_printed(harness):
    written = harness.write_env({"LANGFUSE_DB_PASSWORD": "p@ssw0rd-do-not-print"})
    result = harness.run("start.sh")
    assert_refused(harness, result, written, variables=("LANGFUSE_DB_PASSWORD",))
    assert "p@ssw0rd-do-not-print" not in result.output


@pytest.mark.parametrize("script", ENV_CHECKING_SCRIPTS)
def test_a_line_that_is_not_key_value_is_refused_with_its_number(harness, script):
    text = harness.write_env().decode()
    lines = text.splitlines()
    lines.insert(20, "this line is not a setting")
    written = ("\n".join(lines) + "\n").encode()
    harness.env_file.write_bytes(written)
    result = harness.run(script)
    assert_refused(harness, result, written, ".env.infra line 21 is not KEY=VALUE")
    assert harness.calls() == []


@pytest.mark.parametrize("script", ENV_CHECKING_SCRIPTS)
def test_crlf_line_endings_are_refused_with_the_fix(harness, script):
    text = harness.write_env().decode()
    written = text.replace("\n", "\r\n").encode()
    harness.env_file.write_bytes(written)
    result = harness.run(script)
    assert_refused(harness, result, written, "CRLF", "sed -i 's/\\r$//' .env.infra")
    assert harness.calls() == []


@pytest.mark.parametrize("script", ENV_CHECKING_SCRIPTS)
def test_a_variable_set_twice_is_refused_naming_both_lines(harness, script):
    """`echo POSTGRES_PORT=25441 >> .env.infra`: Compose takes the last value
    (the scripts used to take the first and publish the old port)."""
    text = harness.write_env().decode()
    first = next(number for number, line in enumerate(text.splitlines(), 1) if line.startswith("POSTGRES_PORT="))
    written = (text + "POSTGRES_PORT=25441\n").encode()
    harness.env_file.write_bytes(written)
    result = harness.run(script)
    last = len(text.splitlines()) + 1
    assert_refused(harness, result, written, f".env.infra lines {first} and {last} both set POSTGRES_PORT",
                   "Compose would use the last one", "delete the line")
    assert harness.calls() == []


@pytest.mark.parametrize("script", ENV_CHECKING_SCRIPTS)
def test_a_byte_order_mark_is_named_with_the_command_that_removes_it(harness, script):
    written = b"\xef\xbb\xbf" + harness.write_env()
    harness.env_file.write_bytes(written)
    result = harness.run(script)
    fix = "sed -i 's/^\\xEF\\xBB\\xBF//' .env.infra"
    assert_refused(harness, result, written, ".env.infra line 1 starts with a UTF-8 byte-order mark (BOM)", fix)
    assert "not KEY=VALUE" not in result.stderr
    assert harness.calls() == []
    # The command the message gives makes the file usable.
    subprocess.run(["bash", "-c", fix], cwd=harness.repo, check=True)
    assert harness.env_file.read_bytes() == written[3:]
    assert harness.run("start.sh", "--no-wait").returncode == 0


def test_commands_racing_on_a_fresh_clone_leave_one_whole_env_file(harness):
    """Each command writes .env.infra to a temporary file of its own and puts
    it in place only if none exists: one wins, whole, and the others use it
    (a shared .env.infra.new was left truncated in 5 of 150 tries)."""
    create = 'source "$1/scripts/lib/common.sh"; source "$1/scripts/lib/env.sh"; create_env_file'
    env = {"PATH": os.environ["PATH"], "HOME": str(harness.workdir)}
    for _ in range(6):
        if harness.env_file.exists():
            harness.env_file.unlink()
        racers = [subprocess.Popen(["bash", "-c", create, "create", str(harness.repo)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
        results = [(racer.wait(timeout=60), racer.stdout.read(), racer.stderr.read()) for racer in racers]
        assert [status for status, _, _ in results] == [0] * 8, results
        assert sum("Created .env.infra" in out for _, out, _ in results) == 1, results
        values = parse_env(harness.env_file.read_text())
        assert all(len(values[name]) >= 32 and values[name] != PLACEHOLDER for name in SECRET_NAMES)
        assert len(harness.env_file.read_text().splitlines()) == len(EXAMPLE_TEXT.splitlines())
        assert stat.S_IMODE(harness.env_file.stat().st_mode) == 0o600
        leftovers = sorted(path.name for path in harness.repo.glob(".env.infra.*"))
        assert leftovers == [".env.infra.example"], leftovers


@pytest.mark.parametrize("value", ["0", "70000", "abc", "5432 ", "-1"])
@pytest.mark.parametrize("script", ENV_CHECKING_SCRIPTS)
def test_exported_bad_port_is_refused_naming_the_variable(harness, script, value):
    written = harness.write_env()
    result = harness.run(script, env={"POSTGRES_PORT": value})
    assert_refused(harness, result, written, "must be a port number from 1 to 65535", variables=("POSTGRES_PORT",))
    assert harness.calls() == []


def test_quoted_values_and_comments_reach_compose_as_compose_reads_them(harness):
    written = harness.write_env({
        "REDIS_PASSWORD": "'quoted $ecret # not a comment'",
        "POSTGRES_PASSWORD": "plainpassword123 # a trailing comment",
        "LANGFUSE_ADMIN_PASSWORD": '"double quoted pass"',
    })
    record = "REDIS_PASSWORD,POSTGRES_PASSWORD,LANGFUSE_ADMIN_PASSWORD"
    result = harness.run("start.sh", "--no-wait", env={"FAKE_DOCKER_RECORD_ENV": record})
    assert result.returncode == 0, result
    assert harness.env_file.read_bytes() == written
    [up] = harness.compose_up_calls()
    assert up.env == {
        "REDIS_PASSWORD": "quoted $ecret # not a comment",
        "POSTGRES_PASSWORD": "plainpassword123",
        "LANGFUSE_ADMIN_PASSWORD": "double quoted pass",
    }
    for value in up.env.values():
        assert value not in result.output


def test_a_variable_exported_in_the_shell_wins_over_the_env_file(harness):
    harness.write_env({"REDIS_PASSWORD": "from-the-file-1234", "LANGFUSE_DISABLE_SIGNUP": "false"})
    result = harness.run("start.sh", "--no-wait", env={
        "REDIS_PASSWORD": "from-the-shell-5678", "LANGFUSE_DISABLE_SIGNUP": "true",
        "FAKE_DOCKER_RECORD_ENV": "REDIS_PASSWORD,LANGFUSE_DISABLE_SIGNUP",
    })
    assert result.returncode == 0, result
    [up] = harness.compose_up_calls()
    assert up.env == {"REDIS_PASSWORD": "from-the-shell-5678", "LANGFUSE_DISABLE_SIGNUP": "true"}
    assert "from-the-shell-5678" not in result.output


def test_an_invalid_value_exported_in_the_shell_is_refused_even_if_the_file_is_valid(harness):
    written = harness.write_env()
    result = harness.run("start.sh", env={"LANGFUSE_DB_PASSWORD": "shell@value-1234"})
    assert_refused(harness, result, written, "may only hold letters", variables=("LANGFUSE_DB_PASSWORD",))
    assert "shell@value-1234" not in result.output


def test_a_symlinked_private_env_file_is_used_without_warnings(harness, tmp_path):
    """.env.infra kept elsewhere (a secrets folder) and linked into the clone."""
    written = harness.write_env()
    kept = tmp_path / "secrets" / "transbot.env"
    kept.parent.mkdir()
    harness.env_file.rename(kept)
    harness.env_file.symlink_to(kept)
    result = harness.run("start.sh", "--no-wait")
    assert result.returncode == 0, result
    assert "readable by others" not in result.stderr, result
    assert harness.env_file.is_symlink() and kept.read_bytes() == written
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600

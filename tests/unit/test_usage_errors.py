"""A developer asks a script for help or mistypes its arguments.

Journey: `./scripts/start.sh --help` explains the script and names the
services; a typo (`--nowait`, `postgre`), a pasted shell fragment or a
Compose option that does not belong here is refused at once with one line
naming what is valid, exit 2. Nothing reaches Docker, nothing is created,
not even .env.infra on a fresh clone, whatever the argument holds. A name
that is not a built-in service is looked up in the configuration as
Compose resolves it (an override file may define it): that read-only
`compose config` is the only thing a usage error may ask Docker.
"""

from __future__ import annotations

import pytest

from support.stack import SERVICES

from .harness import SCRIPTS, TIMEOUT_SCRIPTS, one_line_error, tree_state

# Arguments a script must refuse whatever else it accepts.
HOSTILE_ARGUMENTS = {
    "shell-command-after-service": ["postgres; touch {marker}"],
    "command-substitution": ["$(touch x)"],
    "backticks": ["`touch x`"],
    "glob": ["*"],
    "compose-project-name-equals": ["--project-name=evil"],
    "compose-project-name-separate": ["--project-name", "evil"],
    "compose-short-project": ["-p", "evil"],
    "compose-file-short": ["-f", "/etc/passwd"],
    "compose-file-equals": ["--file=/etc/passwd"],
    "compose-env-file": ["--env-file=/etc/passwd"],
    "double-dash": ["--", "postgres"],
    "newline-in-service": ["postgres\nredis"],
    "trailing-newline": ["redis\n"],
    "empty-string": [""],
    "commented-out-service": ["clickhouse"],
}


# What a usage error may ask Docker: versions, the daemon check, and the
# services of the configuration. Nothing that acts on the stack.
READ_ONLY_QUERIES = (("compose", "version"), ("compose", "config"), ("version",))


def assert_untouched(harness, before_repo, before_workdir):
    acting = [call for call in harness.calls()
              if not any(_is_query(call, query) for query in READ_ONLY_QUERIES)]
    assert acting == [], "docker must not be asked to act"
    assert not harness.env_file.exists(), "a usage error must not create .env.infra"
    assert tree_state(harness.repo) == before_repo
    assert tree_state(harness.workdir) == before_workdir


def _is_query(call, query) -> bool:
    if query[0] == "compose":
        return call.is_compose and call.compose_command[:1] == [query[1]]
    return not call.is_compose and call.args[:1] == query


def assert_names_every_service(text: str) -> None:
    for service in SERVICES:
        assert service in text, f"{service} is not named:\n{text}"


def broken_env_file(harness) -> None:
    """A .env.infra no script would accept: placeholders and CRLF endings."""
    example = (harness.repo / ".env.infra.example").read_bytes()
    harness.env_file.write_bytes(example.replace(b"\n", b"\r\n"))
    harness.env_file.chmod(0o644)


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("script", SCRIPTS)
def test_help_prints_usage_naming_script_and_services(harness, script, flag):
    before = tree_state(harness.repo)
    result = harness.run(script, flag)
    assert result.returncode == 0, result
    assert result.stdout.startswith(f"Usage: {script}"), result
    assert_names_every_service(result.stdout)
    assert "-h, --help" in result.stdout
    assert "Exit status:" in result.stdout
    assert result.stderr == ""
    assert harness.calls() == []
    assert tree_state(harness.repo) == before


@pytest.mark.parametrize("script", SCRIPTS)
def test_unknown_option_is_one_line_naming_valid_options(harness, script):
    before, before_workdir = tree_state(harness.repo), tree_state(harness.workdir)
    result = harness.run(script, "--bogus")
    assert result.returncode == 2, result
    line = one_line_error(result)
    assert "unknown option '--bogus'" in line
    assert "valid options:" in line and "--help" in line
    assert f"see {script} --help" in line
    assert result.stdout == ""
    assert_untouched(harness, before, before_workdir)


@pytest.mark.parametrize("script", SCRIPTS)
def test_unknown_service_is_one_line_naming_valid_services(harness, script):
    before, before_workdir = tree_state(harness.repo), tree_state(harness.workdir)
    result = harness.run(script, "postgre")
    assert result.returncode == 2, result
    line = one_line_error(result)
    assert "unknown service 'postgre'" in line or "'postgre' is not a built-in service" in line
    assert "valid services: " in line
    valid = line.split("valid services: ", 1)[1]
    for service in ("postgres", "redis"):
        assert service in valid, line
    assert result.stdout == ""
    assert_untouched(harness, before, before_workdir)


@pytest.mark.parametrize("script", ["start.sh", "stop.sh", "restart.sh", "logs.sh", "health-check.sh"])
def test_a_service_name_is_looked_up_in_compose_only_when_it_is_not_built_in(harness, script):
    harness.write_env()
    harness.run(script, "redis", *(["--no-wait"] if script in ("start.sh", "restart.sh") else []))
    builtin_lookups = len(harness.config_calls())
    harness.log.unlink()
    harness.run(script, "nope")
    assert len(harness.config_calls()) == 1, "asked Compose more than once for one command"
    if script in ("logs.sh", "health-check.sh"):
        assert builtin_lookups == 0, "a built-in name needs no Compose lookup"


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_and_usage_errors_come_before_reading_a_broken_env_file(harness, script):
    broken_env_file(harness)
    before = tree_state(harness.repo)
    helped = harness.run(script, "--help")
    assert helped.returncode == 0, helped
    assert helped.stdout.startswith(f"Usage: {script}")
    refused = harness.run(script, "--bogus")
    assert refused.returncode == 2, refused
    assert "unknown option '--bogus'" in one_line_error(refused)
    assert harness.calls() == []
    assert tree_state(harness.repo) == before, ".env.infra must not be touched, not even its mode"


@pytest.mark.parametrize("script", SCRIPTS)
def test_usage_error_after_a_valid_service_still_runs_nothing(harness, script):
    before, before_workdir = tree_state(harness.repo), tree_state(harness.workdir)
    result = harness.run(script, "redis", "postgres", "nope")
    assert result.returncode == 2, result
    line = one_line_error(result)
    assert "unknown service 'nope'" in line or "'nope' is not a built-in service" in line
    assert_untouched(harness, before, before_workdir)


@pytest.mark.parametrize("case", sorted(HOSTILE_ARGUMENTS))
@pytest.mark.parametrize("script", SCRIPTS)
def test_hostile_argument_is_refused_and_runs_nothing(harness, tmp_path, script, case):
    marker = tmp_path / "injected"
    args = [arg.replace("{marker}", str(marker)) for arg in HOSTILE_ARGUMENTS[case]]
    before, before_workdir = tree_state(harness.repo), tree_state(harness.workdir)
    result = harness.run(script, *args)
    assert result.returncode == 2, result
    line = one_line_error(result)
    assert "valid services:" in line or "valid options:" in line, line
    assert result.stdout == ""
    assert not marker.exists(), "the shell fragment in an argument was run"
    assert not (harness.workdir / "x").exists() and not (harness.repo / "x").exists()
    assert_untouched(harness, before, before_workdir)


@pytest.mark.parametrize("script", SCRIPTS)
def test_control_characters_in_an_argument_are_not_echoed(harness, script):
    result = harness.run(script, "redis\x1b[31m\r\x07")
    assert result.returncode == 2, result
    line = one_line_error(result)
    assert "\x1b" not in result.stderr and "\r" not in result.stderr and "\x07" not in result.stderr
    assert "unknown service 'redis?[31m??'" in line


@pytest.mark.parametrize("value", [None, "0", "abc", "-5", "1.5", "", "--no-wait", "10s"])
@pytest.mark.parametrize("script", TIMEOUT_SCRIPTS)
def test_bad_timeout_is_a_usage_error(harness, script, value):
    args = ["--timeout"] if value is None else ["--timeout", value]
    before, before_workdir = tree_state(harness.repo), tree_state(harness.workdir)
    result = harness.run(script, *args)
    assert result.returncode == 2, result
    line = one_line_error(result)
    assert "--timeout" in line
    # A negative number is a value, and a wrong one: not a missing value.
    if value in ("0", "abc", "-5", "1.5", "10s"):
        assert "whole number of seconds greater than 0" in line and f"'{value}'" in line
    else:
        assert "--timeout needs a value" in line
    assert_untouched(harness, before, before_workdir)


def test_timeout_with_a_leading_zero_is_a_number_of_seconds(harness):
    """08 is eight seconds; bash arithmetic must not read it as octal."""
    harness.write_env()
    result = harness.run("start.sh", "--timeout", "08", "--no-wait")
    assert "value too great for base" not in result.stderr, result
    assert result.returncode == 0, result
    assert len(harness.compose_up_calls()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--tail"], "--tail needs a value"),
    (["--tail", "ten"], "--tail takes a whole number of lines, not 'ten'"),
    (["--tail", "-5"], "--tail takes a whole number of lines, not '-5'"),
    (["--since", "yesterday"], "--since takes a duration such as 10m or 2h"),
    (["--since", "10m; rm -rf /"], "--since takes a duration"),
])
def test_logs_value_options_are_validated(harness, args, message):
    before, before_workdir = tree_state(harness.repo), tree_state(harness.workdir)
    result = harness.run("logs.sh", *args)
    assert result.returncode == 2, result
    assert message in one_line_error(result)
    assert_untouched(harness, before, before_workdir)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_and_usage_errors_work_through_a_symlink(harness, tmp_path, script):
    links = tmp_path / "x"
    links.mkdir()
    link = links / f"tb-{script.removesuffix('.sh')}"
    link.symlink_to(harness.repo / "scripts" / script)
    chained = links / "tb-chained"
    chained.symlink_to(link.name)  # a relative symlink to the symlink

    helped = harness.run(script, "--help", program=link, cwd=tmp_path)
    assert helped.returncode == 0, helped
    assert helped.stdout.startswith(f"Usage: {link.name}"), helped
    assert_names_every_service(helped.stdout)

    refused = harness.run(script, "--bogus", program=chained, cwd=tmp_path)
    assert refused.returncode == 2, refused
    line = one_line_error(refused)
    assert "unknown option '--bogus'" in line and "see tb-chained --help" in line
    assert harness.calls() == []
    assert sorted(path.name for path in links.iterdir()) == sorted([link.name, chained.name])

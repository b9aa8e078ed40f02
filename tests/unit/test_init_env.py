"""init-env.sh on an existing .env.infra: a file copied from the example by
hand, or one from an older checkout that lacks newer variables, is brought
up to date in place: every leftover placeholder gets a generated secret,
every variable of the example it lacks is appended, and every other line is
kept exactly as it was. Values are never printed (the harness checks)."""

from __future__ import annotations

import re

from .harness import EXAMPLE_TEXT, PLACEHOLDER, SECRET_NAMES, parse_env


def test_init_env_fills_the_placeholders_left_in_an_existing_file(harness):
    # The example as copied by hand, with one setting of the user's own.
    text = EXAMPLE_TEXT.replace("POSTGRES_PORT=5432", "POSTGRES_PORT=5999")
    assert text != EXAMPLE_TEXT
    harness.env_file.write_text(text)
    harness.env_file.chmod(0o600)

    result = harness.run("init-env.sh")

    assert result.returncode == 0, result
    values = parse_env(harness.env_file.read_text())
    assert [name for name in SECRET_NAMES if values.get(name) in (None, "", PLACEHOLDER)] == []
    assert values["POSTGRES_PORT"] == "5999"
    kept = [line for line in text.splitlines() if not line.endswith(f"={PLACEHOLDER}")]
    assert [line for line in harness.env_file.read_text().splitlines() if line in kept] == kept


def test_init_env_appends_the_variables_an_existing_file_lacks(harness):
    harness.write_env({"REDIS_PASSWORD": None, "REDIS_APPENDFSYNC": None})
    before = harness.env_file.read_text()

    result = harness.run("init-env.sh")

    assert result.returncode == 0, result
    after = harness.env_file.read_text()
    assert after.startswith(before), "the lines already there must stay as they were"
    values = parse_env(after)
    assert re.fullmatch(r"[0-9a-f]{32}", values["REDIS_PASSWORD"]), "a generated secret"
    assert values["REDIS_APPENDFSYNC"] == parse_env(EXAMPLE_TEXT)["REDIS_APPENDFSYNC"]
    assert "REDIS_PASSWORD" in result.stdout and "REDIS_APPENDFSYNC" in result.stdout


def test_an_env_file_from_before_the_project_name_gets_it_from_init_env_and_start_says_so(harness):
    # Without it, Compose typed by hand names the stack after the folder.
    harness.write_env({"COMPOSE_PROJECT_NAME": None})

    started = harness.run("start.sh", "--no-wait")
    assert started.returncode == 0, started
    assert ("warning: .env.infra has no COMPOSE_PROJECT_NAME, so docker compose typed by hand would start "
            "a second stack named after this folder; add it with ./scripts/init-env.sh") in started.stderr

    result = harness.run("init-env.sh")
    assert result.returncode == 0, result
    assert parse_env(harness.env_file.read_text())["COMPOSE_PROJECT_NAME"] == "transbot"
    again = harness.run("start.sh", "--no-wait")
    assert again.returncode == 0, again
    assert "COMPOSE_PROJECT_NAME" not in again.stderr

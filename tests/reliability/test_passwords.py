"""Strange passwords either work end to end or are refused at start.

POSTGRES_PASSWORD, REDIS_PASSWORD and LANGFUSE_ADMIN_PASSWORD hold spaces,
both kinds of quotes, `$`, `#`, `@:/?&%`, a backslash and non-ASCII letters
(single-quoted or double-quoted in .env.infra, as the example says). One
stack runs with all of them and must be fully usable: health-check passes,
psycopg connects with the DATABASE_URL app-env.sh prints, redis-py with the
printed REDIS_URL, Langfuse reaches its database, and the scripts that pass
passwords around (backup, apply-schema, redis-cli, restart) work.

LANGFUSE_DB_PASSWORD sits unencoded in Langfuse's DATABASE_URL, so the
scripts only accept URL-safe characters in it: anything else is refused at
start naming the variable (never its value), before anything is created.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request

import psycopg
import pytest
import redis

from support import clients

from .common import (
    assert_no_secret,
    docker_state,
    health_check,
    script_ok,
    secrets_of,
    set_env_values,
    tree_difference,
    tree_snapshot,
)

# What the stack must end up with, and how .env.infra spells it.
POSTGRES_PASSWORD = 'p w"$#@:/?&%\\é€日'
# The backslash is not last: Compose v1 misreads a double-quoted value ending in one.
REDIS_PASSWORD = "r 'q' #@:/?&%ü\"z\\y"
ADMIN_PASSWORD = 'a d$m"i \\#@:/?&%ß'
HOSTILE_ENV = {
    "POSTGRES_PASSWORD": f"'{POSTGRES_PASSWORD}'",
    "REDIS_PASSWORD": '"' + REDIS_PASSWORD.replace("\\", "\\\\").replace('"', '\\"') + '"',
    "LANGFUSE_ADMIN_PASSWORD": f"'{ADMIN_PASSWORD}'",
}
CHARACTERS = sorted(set(POSTGRES_PASSWORD + REDIS_PASSWORD) - set("abcdefghijklmnopqrstuvwxyz"))


@pytest.fixture(scope="module")
def stack(module_stack):
    stack = module_stack()
    script_ok(stack, "init-env.sh")
    set_env_values(stack, HOSTILE_ENV)
    values = stack.env_file()
    # The test's own reading of .env.infra agrees with what it meant to write.
    assert values["POSTGRES_PASSWORD"] == POSTGRES_PASSWORD
    assert values["REDIS_PASSWORD"] == REDIS_PASSWORD
    return stack


def _app_settings(stack) -> dict[str, str]:
    printed = script_ok(stack, "app-env.sh")
    return dict(line.split("=", 1) for line in printed.stdout.splitlines() if "=" in line and not line.startswith("#"))


def test_the_stack_starts_healthy_with_hostile_passwords(stack, figures):
    started = stack.script("start.sh", timeout=400)
    figures.record("hostile_passwords", characters="".join(CHARACTERS), start_exit=started.returncode)
    assert started.returncode == 0, str(started)
    for service in ("postgres", "langfuse", "redis"):
        assert f"{service} is healthy" in started.stdout
    assert_no_secret(started.output, secrets_of(stack), "start.sh's output")
    checked = health_check(stack, "--json")
    assert checked.returncode == 0, str(checked)
    assert json.loads(checked.stdout)["healthy"] is True


def test_psycopg_connects_with_the_printed_database_url(stack):
    url = _app_settings(stack)["DATABASE_URL"]
    assert urllib.parse.unquote(urllib.parse.urlsplit(url).password) == POSTGRES_PASSWORD
    with psycopg.connect(url, connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("transbot_user", "transbot")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url.replace("%E2%82%AC", "E"), connect_timeout=5)


def test_redis_connects_with_the_printed_redis_url(stack):
    url = _app_settings(stack)["REDIS_URL"]
    client = redis.Redis.from_url(url, socket_timeout=5)
    assert client.ping() is True
    client.set("hostile:password", "works")
    assert client.get("hostile:password") == b"works"
    client.close()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(url.replace("%C3%BC", "u"), socket_timeout=5).ping()


def test_langfuse_reaches_its_database_and_its_keys_work(stack):
    base = f"http://127.0.0.1:{stack.ports['langfuse']}"
    with urllib.request.urlopen(f"{base}/api/public/health?failIfDatabaseUnavailable=true", timeout=10) as answer:
        assert answer.status == 200
    values = stack.env_file()
    token = base64.b64encode(f"{values['LANGFUSE_PUBLIC_KEY']}:{values['LANGFUSE_SECRET_KEY']}".encode()).decode()
    request = urllib.request.Request(f"{base}/api/public/projects", headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert [project["name"] for project in json.load(answer)["data"]] == ["transbot"]


def test_scripts_that_pass_passwords_around_work(stack):
    secrets = secrets_of(stack)
    for args in (("backup.sh",), ("apply-schema.sh",), ("restart.sh", "redis")):
        result = script_ok(stack, *args)
        assert_no_secret(result.output, secrets, f"{args[0]}'s output")
    pong = script_ok(stack, "redis-cli.sh", "ping")
    assert pong.stdout.strip() == "PONG"
    # apply-schema.sh set the password again from .env.infra: still the same one.
    with clients.postgres(stack, password=POSTGRES_PASSWORD) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert clients.redis_client(stack, password=REDIS_PASSWORD).get("hostile:password") == "works"
    assert health_check(stack).returncode == 0


# --- LANGFUSE_DB_PASSWORD: URL-safe characters only -------------------------------------------

REFUSED_DB_PASSWORDS = {
    "space": "'with space'",
    "double-quote": "'say\"cheese'",
    "single-quote": '"it\'s-mine"',
    "dollar": "'dollar$sign'",
    "hash": "'hash#tag'",
    "url-reserved": "'at@colon:slash/q?amp&pct%'",
    # One reserved character each: Prisma refuses these unencoded (P1013).
    "colon-only": "'colon:only'",
    "ampersand-only": "'ampersand&only'",
    "non-ascii": "'nön-ascii'",
    "unquoted-at": "p@ssword",
}


@pytest.fixture(scope="module")
def never_started(module_stack):
    stack = module_stack()
    script_ok(stack, "init-env.sh")
    return stack


@pytest.mark.parametrize("case", sorted(REFUSED_DB_PASSWORDS))
def test_a_langfuse_db_password_outside_url_safe_characters_is_refused(never_started, figures, case):
    figures.count("hostile_input", "cases_tried")
    stack = never_started
    original = (stack.root / ".env.infra").read_bytes()
    try:
        set_env_values(stack, {"LANGFUSE_DB_PASSWORD": REFUSED_DB_PASSWORDS[case]})
        value = stack.env_file()["LANGFUSE_DB_PASSWORD"]
        files_before = tree_snapshot(stack.root.parent)
        result = stack.script("start.sh", timeout=120)
        assert result.returncode == 1, str(result)
        assert "LANGFUSE_DB_PASSWORD may only hold letters, digits and . _ ~ -" in result.stderr, str(result)
        assert value not in result.output, "the refused value was printed"
        assert_no_secret(result.output, secrets_of(stack), "start.sh's output")
        assert docker_state(stack.project) == {"containers": [], "networks": [], "volumes": []}, \
            "a refused start created something"
        assert tree_difference(files_before, tree_snapshot(stack.root.parent)) == []
    finally:
        (stack.root / ".env.infra").write_bytes(original)


def test_a_single_quoted_password_ending_in_a_backslash_is_refused_by_name(never_started, figures):
    """'secret\\' is a literal for the scripts, but Compose v2 reads \\' as an
    escaped quote and cannot parse .env.infra: start.sh must say which
    variable to fix, without printing it, and create nothing."""
    figures.count("hostile_input", "cases_tried")
    stack = never_started
    original = (stack.root / ".env.infra").read_bytes()
    try:
        set_env_values(stack, {"POSTGRES_PASSWORD": "'ends-in-a-backslash\\'"})
        assert stack.env_file()["POSTGRES_PASSWORD"] == "ends-in-a-backslash\\"
        result = stack.script("start.sh", timeout=120)
        assert result.returncode == 1, str(result)
        assert "POSTGRES_PASSWORD" in result.stderr, str(result)
        assert "ends-in-a-backslash" not in result.output, "the password was printed"
        assert docker_state(stack.project) == {"containers": [], "networks": [], "volumes": []}
    finally:
        (stack.root / ".env.infra").write_bytes(original)

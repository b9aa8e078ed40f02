"""Everything app-env.sh prints works with the client it is meant for, run
from the host as a developer would: DATABASE_URL with psql and psycopg,
REDIS_URL with redis-cli and redis-py, the Langfuse keys with the SDK v2's
auth_check(). Once with the generated passwords, once with passwords full
of characters that need percent-encoding.

The commands are the README's: `psql "$DATABASE_URL" -c 'select 1'` and
`redis-cli -u "$REDIS_URL" ping`, with the URL in the environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.parse

import psycopg
import pytest
import redis
from langfuse import Langfuse

from support.engine import unavailable
from support.stack import Stack

# Single-quoted in .env.infra: taken literally by the scripts and by Compose.
HOSTILE = {
    "POSTGRES_PASSWORD": 'p w"$#@:/?&%=+;,[]!*()\\x é€日',
    "REDIS_PASSWORD": 'r q"$#@:/?&%=+;,[]!*()\\y ü',
}
# The client's own environment must not help it (a password or URL from the shell).
_CLIENT_VARIABLES = re.compile(r"^(PG|REDIS|LANGFUSE_|DATABASE_URL$)")


def set_env_values(stack: Stack, values: dict[str, str]) -> None:
    path = stack.root / ".env.infra"
    lines = []
    for line in path.read_text().splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}='{values[key]}'" if key in values else line)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module", params=["generated", "hostile"])
def stack(request, engine, images, compose_v2):
    stack = Stack.create(compose_v2, images)
    try:
        if request.param == "hostile":
            created = stack.script("init-env.sh")
            assert created.returncode == 0, created
            set_env_values(stack, HOSTILE)
            assert {key: stack.env_file()[key] for key in HOSTILE} == HOSTILE
        started = stack.script("start.sh")
        assert started.returncode == 0, f"{started}\n{stack.diagnostics()}"
        yield stack
    finally:
        stack.destroy()


@pytest.fixture(scope="module")
def printed(stack) -> dict[str, str]:
    result = stack.script("app-env.sh")
    assert result.returncode == 0, result
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line and not line.startswith("#"))


def client_env(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not _CLIENT_VARIABLES.match(key)}
    env.update(PSQLRC=os.devnull, PGCONNECT_TIMEOUT="10", **values)
    return env


def host_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed on the host (apt-get install postgresql-client redis-tools)")
    return path


def test_the_printed_urls_carry_the_passwords(stack, printed):
    env = stack.env_file()
    database = urllib.parse.urlsplit(printed["DATABASE_URL"])
    assert urllib.parse.unquote(database.password) == env["POSTGRES_PASSWORD"]
    cache = urllib.parse.urlsplit(printed["REDIS_URL"])
    assert (cache.username, urllib.parse.unquote(cache.password)) == ("default", env["REDIS_PASSWORD"])


def test_psql_runs_a_query_with_database_url(printed):
    host_tool("psql")
    completed = subprocess.run(["bash", "-c", """psql "$DATABASE_URL" -c 'select 1'"""],
                               env=client_env(DATABASE_URL=printed["DATABASE_URL"]),
                               capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert completed.returncode == 0, completed.stderr
    assert re.search(r"^\s*1\s*$", completed.stdout, re.M) and "(1 row)" in completed.stdout, completed.stdout


def test_psycopg_connects_with_database_url(printed):
    with psycopg.connect(printed["DATABASE_URL"], connect_timeout=10) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("transbot_user", "transbot")


def test_redis_cli_pings_with_redis_url(printed):
    host_tool("redis-cli")
    script = """redis-cli -u "$REDIS_URL" ping && redis-cli -u "$REDIS_URL" set clients:cli works"""
    completed = subprocess.run(["bash", "-c", script], env=client_env(REDIS_URL=printed["REDIS_URL"]),
                               capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert completed.returncode == 0, completed.stderr
    # redis-cli exits 0 on an error reply: the answer is what counts.
    assert completed.stdout.split() == ["PONG", "OK"], f"{completed.stdout}\n{completed.stderr}"


def test_redis_py_connects_with_redis_url(printed):
    client = redis.Redis.from_url(printed["REDIS_URL"], socket_timeout=10, decode_responses=True)
    try:
        assert client.ping() is True
        assert client.set("clients:py", "works") is True
        assert client.get("clients:py") == "works"
    finally:
        client.close()


def test_the_langfuse_sdk_accepts_the_printed_keys(printed):
    langfuse = Langfuse(public_key=printed["LANGFUSE_PUBLIC_KEY"], secret_key=printed["LANGFUSE_SECRET_KEY"],
                        host=printed["LANGFUSE_HOST"])
    try:
        assert langfuse.auth_check() is True
    finally:
        langfuse.shutdown()
    wrong = Langfuse(public_key=printed["LANGFUSE_PUBLIC_KEY"], secret_key="sk-lf-wrong",
                     host=printed["LANGFUSE_HOST"])
    try:
        with pytest.raises(Exception, match="(?i)unauthori|invalid credentials|401"):
            wrong.auth_check()
    finally:
        wrong.shutdown()

"""Changing a password in .env.infra, the way the README says to
("Changing secrets safely"), on the real engine through the real scripts.

- "REDIS_PASSWORD takes effect on the next restart.sh redis": afterwards
  the old password is refused, the new one accepted, and the data is kept.
- LANGFUSE_DB_PASSWORD: PostgreSQL keeps the password it was initialised
  with; "./scripts/apply-schema.sh && ./scripts/restart.sh" applies the new
  one, and Langfuse runs on it with its data kept.
- POSTGRES_PASSWORD changed after the first start: start.sh fails, naming
  it and the fix, instead of reporting a stack no client can use.
"""

from __future__ import annotations

import secrets

import psycopg
import pytest
import redis

from support import clients

from .common import add_trace, container_env, script_ok, set_env_value, trace_status


def test_a_new_redis_password_takes_effect_on_restart_redis(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    old = stack.env_file()["REDIS_PASSWORD"]
    clients.redis_client(stack).set("cache:kept", "yes")
    new = secrets.token_hex(16)
    set_env_value(stack, "REDIS_PASSWORD", new)

    restarted = script_ok(stack, "restart.sh", "redis")

    assert "redis is healthy" in restarted.stdout
    with pytest.raises(redis.AuthenticationError):
        clients.redis_client(stack, password=old).ping()
    cache = clients.redis_client(stack, password=new)
    assert cache.get("cache:kept") == "yes"
    assert script_ok(stack, "health-check.sh").returncode == 0


def test_a_new_langfuse_db_password_works_after_apply_schema_and_restart(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    old = stack.env_file()["LANGFUSE_DB_PASSWORD"]
    trace = add_trace(stack, "before the rotation")
    new = secrets.token_hex(16)  # URL-safe, as the scripts require for this one
    set_env_value(stack, "LANGFUSE_DB_PASSWORD", new)

    applied = script_ok(stack, "apply-schema.sh")
    restarted = script_ok(stack, "restart.sh")

    assert "no data was deleted" in applied.stdout
    assert "langfuse is healthy" in restarted.stdout
    assert f"postgresql://langfuse:{new}@" in container_env(stack, "langfuse")["DATABASE_URL"], \
        "Langfuse was not recreated with the new password"
    langfuse_db = dict(host="127.0.0.1", port=stack.ports["postgres"], user="langfuse", dbname="langfuse",
                       connect_timeout=5)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**langfuse_db, password=old)
    with psycopg.connect(**langfuse_db, password=new) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert trace_status(stack, trace) == 200, "Langfuse lost its data"
    assert script_ok(stack, "health-check.sh").returncode == 0


def test_a_postgres_password_changed_after_initialisation_fails_start_naming_the_fix(make_stack, compose_v2):
    """README: start.sh notices "POSTGRES_PASSWORD in .env.infra is not the
    password volumes/postgres was initialised with" instead of leaving a
    silently broken stack; apply-schema.sh then makes the database use it."""
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    set_env_value(stack, "POSTGRES_PASSWORD", secrets.token_hex(16))

    refused = stack.script("start.sh")

    assert refused.returncode == 1, refused
    assert "postgres is up, but a client cannot use it" in refused.stderr, refused
    assert "POSTGRES_PASSWORD in .env.infra is not the password volumes/postgres was initialised with" \
        in refused.stderr, refused
    assert "TransBot infrastructure is up" not in refused.stdout
    script_ok(stack, "apply-schema.sh")
    assert "TransBot infrastructure is up" in script_ok(stack, "start.sh").stdout


def test_a_postgres_user_changed_after_initialisation_is_named_with_the_old_one(make_stack, compose_v2):
    """PostgreSQL creates POSTGRES_USER only in an empty data folder. Over
    the network an unknown role fails like a wrong password, but the
    diagnosis names the user, not POSTGRES_PASSWORD, and apply-schema.sh
    (which cannot help) says the same in one line instead of crashing."""
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    set_env_value(stack, "POSTGRES_USER", "newcomer")
    diagnosis = ("POSTGRES_USER in .env.infra (newcomer) is not a role of volumes/postgres, which was initialised "
                 "with transbot_user")

    restarted = stack.script("restart.sh", "postgres")

    assert restarted.returncode == 1, restarted
    assert "postgres is up, but a client cannot use it" in restarted.stderr, restarted
    assert diagnosis in restarted.stderr, restarted
    assert "put the old value back in .env.infra (POSTGRES_USER=transbot_user)" in restarted.stderr, restarted
    assert "POSTGRES_PASSWORD" not in restarted.stderr and "apply-schema" not in restarted.stderr, restarted

    applied = stack.script("apply-schema.sh")

    assert applied.returncode == 1, applied
    errors = [line for line in applied.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: " + diagnosis), applied
    assert "internal error" not in applied.stderr

    set_env_value(stack, "POSTGRES_USER", "transbot_user")
    assert "postgres is healthy" in script_ok(stack, "restart.sh", "postgres").stdout

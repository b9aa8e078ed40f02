"""apply-schema.sh on a database from before this repository gave Langfuse
a database of its own (README, PostgreSQL: "coming from an older version of
this repository that had no `langfuse` database: ./scripts/apply-schema.sh").

Such a volume has TransBot's schema and rows but neither the `langfuse` role
nor the `langfuse` database. The test makes one by starting PostgreSQL alone
(Langfuse never runs) and dropping both, then follows the README.
"""

from __future__ import annotations

import psycopg

from support import clients
from support.stack import Stack

from .common import add_trace, script_ok, trace_status


def _older_volume(stack: Stack) -> None:
    script_ok(stack, "start.sh", "postgres")
    env = stack.env_file()
    for sql in ("DROP DATABASE langfuse", "DROP ROLE langfuse"):
        done = stack.docker_exec("postgres", "psql", "-v", "ON_ERROR_STOP=1", "-XAtq", "-U", env["POSTGRES_USER"],
                                 "-d", env["POSTGRES_DB"], "-c", sql)
        assert done.returncode == 0, done.stderr
    with clients.postgres(stack) as conn:
        clients.add_translation(conn, "old@example.com", "from the older version")


def _langfuse_database_owner(stack: Stack) -> str | None:
    with clients.postgres(stack) as conn:
        row = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'langfuse'").fetchone()
    return row[0] if row else None


def test_apply_schema_gives_an_older_volume_the_langfuse_database_and_keeps_its_rows(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    _older_volume(stack)
    assert _langfuse_database_owner(stack) is None

    applied = script_ok(stack, "apply-schema.sh")

    assert "no data was deleted" in applied.stdout
    assert _langfuse_database_owner(stack) == "langfuse"
    with psycopg.connect(host="127.0.0.1", port=stack.ports["postgres"], user="langfuse", dbname="langfuse",
                         password=stack.env_file()["LANGFUSE_DB_PASSWORD"], connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("langfuse",)
    with clients.postgres(stack) as conn:
        assert clients.translation_texts(conn) == ["from the older version"]


def test_langfuse_comes_up_on_an_older_volume_after_apply_schema(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    _older_volume(stack)
    script_ok(stack, "apply-schema.sh")

    started = script_ok(stack, "start.sh")

    assert "langfuse is healthy" in started.stdout
    trace = add_trace(stack, "after the upgrade")
    assert trace_status(stack, trace) == 200
    with clients.postgres(stack) as conn:
        assert clients.translation_texts(conn) == ["from the older version"]


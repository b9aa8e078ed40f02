"""How the init scripts behave under the official image's initialisation
contract: applying them again changes nothing, and a failing script stops
the container."""

from __future__ import annotations

import psycopg
import pytest

from .servers import INITDB_DIR, start_postgres, write_init_file

SCHEMA_FILE = INITDB_DIR + "20-transbot-schema.sql"
LANGFUSE_SCRIPT = INITDB_DIR + "10-langfuse-database.sh"
LANGFUSE_PASSWORD = "langfuse-pw-3e1d"

# Everything init.sql creates, as the catalogs describe it, plus its data.
CATALOG_QUERIES = {
    "schemas": """
        SELECT n.nspname, pg_get_userbyid(n.nspowner), n.nspacl::text, obj_description(n.oid, 'pg_namespace')
        FROM pg_namespace n
        WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ORDER BY 1""",
    "relations": """
        SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl::text, c.relpersistence,
               c.reloptions::text, obj_description(c.oid, 'pg_class')
        FROM pg_class c WHERE c.relnamespace = 'transbot'::regnamespace ORDER BY 1""",
    "columns": """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'transbot'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
          AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 2""",
    "constraints": """
        SELECT coalesce(conrelid::regclass::text, contypid::regtype::text), conname, contype,
               pg_get_constraintdef(oid), condeferrable, convalidated
        FROM pg_constraint WHERE connamespace = 'transbot'::regnamespace ORDER BY 1, 2""",
    "domains": """
        SELECT t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault,
               pg_get_userbyid(t.typowner)
        FROM pg_type t WHERE t.typnamespace = 'transbot'::regnamespace AND t.typtype = 'd' ORDER BY 1""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'transbot' ORDER BY 1, 2""",
    "triggers": """
        SELECT t.tgrelid::regclass::text, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = 'transbot'::regnamespace AND NOT t.tgisinternal ORDER BY 1, 2""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid),
               pg_get_userbyid(p.proowner), p.proacl::text
        FROM pg_proc p WHERE p.pronamespace = 'transbot'::regnamespace ORDER BY 1, 2""",
    "sequences": """
        SELECT sequencename, data_type::text, start_value, increment_by, last_value
        FROM pg_sequences WHERE schemaname = 'transbot' ORDER BY 1""",
    "users": "SELECT to_jsonb(u)::text FROM transbot.users u ORDER BY id",
    "translations": "SELECT to_jsonb(t)::text FROM transbot.translations t ORDER BY id",
}

# What langfuse-database.sh creates; rolpassword is compared on its own.
LANGFUSE_QUERIES = {
    "roles": """
        SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
               rolbypassrls, rolconnlimit, rolvaliduntil, rolconfig::text
        FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1""",
    "databases": """
        SELECT datname, pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype,
               datistemplate, datallowconn, datconnlimit, datacl::text
        FROM pg_database ORDER BY 1""",
    "memberships": """
        SELECT pg_get_userbyid(roleid), pg_get_userbyid(member), admin_option FROM pg_auth_members ORDER BY 1, 2""",
}


def snapshot(conn, queries: dict[str, str]) -> dict[str, list[tuple]]:
    return {name: conn.execute(query).fetchall() for name, query in queries.items()}


def langfuse_password_hash(conn) -> str:
    return conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'langfuse'").fetchone()[0]


@pytest.fixture(scope="module")
def pg(module_pool):
    return start_postgres(module_pool, "pg-idempotency", postgres_password="idem-pw-5a0b",
                          langfuse_password=LANGFUSE_PASSWORD)


@pytest.fixture(scope="module")
def conn(pg):
    with pg.connect() as connection:
        yield connection


@pytest.fixture(scope="module")
def with_data(conn):
    """A user with a history, so that "rows untouched" means something."""
    user = conn.execute("INSERT INTO transbot.users (external_id, display_name, preferred_source_lang)"
                        " VALUES ('idem@example.com', 'Idem', 'pt-BR') RETURNING id").fetchone()[0]
    conn.execute("UPDATE transbot.users SET display_name = 'Idem Potent' WHERE id = %s", (user,))
    for n in range(3):
        conn.execute(
            "INSERT INTO transbot.translations (user_id, source_lang, target_lang, source_text, translated_text,"
            " model, input_tokens, output_tokens, cost_usd, latency_ms, status, langfuse_trace_id)"
            " VALUES (%s, 'pt-BR', 'en', %s, %s, 'gpt-4o-mini', 10, 8, 0.00002, 300, 'succeeded', %s)",
            (user, f"Olá {n}", f"Hello {n}", f"trace-{n}"))
    return user


def test_applying_init_sql_again_and_again_changes_nothing(pg, conn, with_data):
    before = snapshot(conn, CATALOG_QUERIES)
    assert len(before["translations"]) == 3
    # The snapshot sees what init.sql made (or comparing it proves nothing).
    assert len(before["relations"]) >= 6 and before["triggers"] and before["functions"] and before["domains"]
    assert len(before["constraints"]) >= 10 and len(before["indexes"]) >= 5
    for attempt in (2, 3):
        result = pg.psql_file(SCHEMA_FILE)
        assert result.returncode == 0, f"run {attempt}:\n{result.stdout}\n{result.stderr}"
        assert "ERROR" not in result.stderr, result.stderr
        # "already exists, skipping" notices are silenced by the file itself.
        assert "NOTICE" not in result.stderr, result.stderr
        assert snapshot(conn, CATALOG_QUERIES) == before, f"run {attempt} changed the catalogs or data"


def test_rows_keep_working_after_init_sql_is_applied_again(pg, conn, with_data):
    assert pg.psql_file(SCHEMA_FILE).returncode == 0
    # The trigger and the identity still behave as on a fresh database.
    old = conn.execute("SELECT updated_at FROM transbot.users WHERE id = %s", (with_data,)).fetchone()[0]
    conn.execute("UPDATE transbot.users SET display_name = 'Again' WHERE id = %s", (with_data,))
    assert conn.execute("SELECT updated_at FROM transbot.users WHERE id = %s", (with_data,)).fetchone()[0] > old
    new_id = conn.execute("INSERT INTO transbot.users (external_id) VALUES ('after-rerun@example.com')"
                          " RETURNING id").fetchone()[0]
    assert new_id > with_data


def test_running_the_langfuse_script_again_only_resets_the_password(pg, conn, with_data):
    before = snapshot(conn, {**CATALOG_QUERIES, **LANGFUSE_QUERIES})
    hash_before = langfuse_password_hash(conn)
    new_password = "rotated-pw-8c2f"

    result = pg.container.exec("sh", LANGFUSE_SCRIPT, env={"LANGFUSE_DB_PASSWORD": new_password}, user="postgres")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "ERROR" not in result.stderr, result.stderr
    assert snapshot(conn, {**CATALOG_QUERIES, **LANGFUSE_QUERIES}) == before
    assert langfuse_password_hash(conn) != hash_before
    with pg.connect(user="langfuse", password=new_password, dbname="langfuse") as lf:
        assert lf.execute("SELECT current_user").fetchone() == ("langfuse",)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg.connect(user="langfuse", password=LANGFUSE_PASSWORD, dbname="langfuse")

    # Once more with the container's own environment: back to the original.
    result = pg.container.exec("sh", LANGFUSE_SCRIPT, user="postgres")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert snapshot(conn, {**CATALOG_QUERIES, **LANGFUSE_QUERIES}) == before
    with pg.connect(user="langfuse", dbname="langfuse") as lf:
        assert lf.execute("SELECT current_user").fetchone() == ("langfuse",)


def test_langfuse_script_refuses_an_empty_password(pg, conn):
    before = langfuse_password_hash(conn)
    result = pg.container.exec("sh", LANGFUSE_SCRIPT, env={"LANGFUSE_DB_PASSWORD": ""}, user="postgres")
    assert result.returncode != 0
    assert "LANGFUSE_DB_PASSWORD is empty" in result.stderr
    assert langfuse_password_hash(conn) == before


# --- The official image's contract the scripts rely on ------------------------

@pytest.fixture(scope="module")
def failed_init(module_pool, tmp_path_factory):
    """A container whose init scripts end with one that fails."""
    fail = write_init_file(tmp_path_factory.mktemp("initdb-fail"), "30-fail.sql", "SELECT 1/0;\n")
    server = start_postgres(module_pool, "pg-failinit", postgres_password="fail-pw-11aa",
                            langfuse_password=LANGFUSE_PASSWORD, extra_mounts=[fail], wait=False)
    return server, server.container.wait_exit(timeout=120)


def test_a_failing_init_script_stops_the_container_with_an_error(failed_init):
    server, exit_code = failed_init
    assert exit_code != 0
    logs = server.container.logs()
    assert "division by zero" in logs
    assert "PostgreSQL init process complete" not in logs


def test_after_a_failed_init_a_restart_serves_the_half_initialised_database(failed_init):
    # Why a failed init must be followed by a reset, not a restart: the next
    # start finds PGDATA and skips initialisation altogether.
    server, _ = failed_init
    server.container.start()
    server.wait_ready()
    assert "Skipping initialization" in server.container.logs()
    with server.connect() as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'transbot'").fetchone()
        databases = conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'langfuse'").fetchone()
    assert tables == (2,) and databases == (1,)

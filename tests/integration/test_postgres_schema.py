"""The TransBot schema in a PostgreSQL initialised exactly as the compose
file initialises it (services/postgres/*.sh and init.sql mounted into
/docker-entrypoint-initdb.d), queried from the host over the published port."""

from __future__ import annotations

import json
from decimal import Decimal

import psycopg
import pytest
from psycopg import errors, sql

from .servers import start_postgres

LANGUAGE_CODE = "transbot.language_code"


@pytest.fixture(scope="module")
def pg(module_pool):
    return start_postgres(module_pool, "pg-schema", postgres_password="schema-pw-1f9c",
                          langfuse_password="langfuse-pw-77ab")


@pytest.fixture(scope="module")
def conn(pg):
    with pg.connect() as connection:
        yield connection


@pytest.fixture(scope="module")
def user_id(conn) -> int:
    return new_user(conn, "constraints@example.com")


def new_user(conn: psycopg.Connection, external_id: str, **columns) -> int:
    columns = {"external_id": external_id, **columns}
    query = sql.SQL("INSERT INTO transbot.users ({}) VALUES ({}) RETURNING id").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns)))
    return conn.execute(query, list(columns.values())).fetchone()[0]


def insert_translation(conn: psycopg.Connection, **columns) -> dict:
    query = sql.SQL("INSERT INTO transbot.translations ({}) VALUES ({}) RETURNING *").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns)))
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(query, list(columns.values())).fetchone()


def columns_of(conn: psycopg.Connection, table: str) -> dict[str, tuple[str, bool]]:
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped", (f"transbot.{table}",))
    return {name: (type_, notnull) for name, type_, notnull in rows}


# --- Structure --------------------------------------------------------------------

def test_transbot_schema_holds_the_users_and_translations_tables(conn):
    tables = {row[0] for row in conn.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'transbot'::regnamespace AND c.relkind = 'r'")}
    assert tables == {"users", "translations"}
    owner = conn.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'transbot'").fetchone()
    assert owner == ("transbot_user",)


def test_users_table_has_identity_name_language_preferences_and_timestamps(conn):
    assert columns_of(conn, "users") == {
        "id": ("bigint", True),
        "external_id": ("text", True),
        "display_name": ("text", False),
        "preferred_source_lang": (LANGUAGE_CODE, False),
        "preferred_target_lang": (LANGUAGE_CODE, True),
        "created_at": ("timestamp with time zone", True),
        "updated_at": ("timestamp with time zone", True),
    }
    identity = conn.execute("SELECT attidentity FROM pg_attribute WHERE attrelid = 'transbot.users'::regclass"
                            " AND attname = 'id'").fetchone()
    assert identity == ("a",), "users.id must be GENERATED ALWAYS AS IDENTITY"
    unique = conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'transbot.users'::regclass"
        " AND contype = 'u'").fetchall()
    assert unique == [("UNIQUE (external_id)",)]


def test_translations_table_has_every_column_the_history_needs(conn):
    assert columns_of(conn, "translations") == {
        "id": ("bigint", True),
        "user_id": ("bigint", True),
        "session_id": ("text", False),
        "source_lang": (LANGUAGE_CODE, False),
        "target_lang": (LANGUAGE_CODE, True),
        "detected_lang": (LANGUAGE_CODE, False),
        "source_text": ("text", True),
        "translated_text": ("text", False),
        "model": ("text", True),
        "prompt_version": ("text", False),
        "input_tokens": ("integer", False),
        "output_tokens": ("integer", False),
        "cost_usd": ("numeric(12,6)", False),
        "latency_ms": ("integer", False),
        "status": ("text", True),
        "error_message": ("text", False),
        "langfuse_trace_id": ("text", False),
        "created_at": ("timestamp with time zone", True),
    }


def test_translations_reference_users_with_cascading_delete(conn):
    rows = conn.execute(
        "SELECT confrelid::regclass::text, pg_get_constraintdef(oid), confdeltype FROM pg_constraint"
        " WHERE conrelid = 'transbot.translations'::regclass AND contype = 'f'").fetchall()
    assert rows == [("transbot.users", "FOREIGN KEY (user_id) REFERENCES transbot.users(id) ON DELETE CASCADE", "c")]


def test_recent_history_index_is_on_user_and_newest_first(conn):
    definition = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'transbot'"
        " AND indexname = 'translations_user_recent_idx'").fetchone()
    assert definition is not None, "translations_user_recent_idx is missing"
    assert definition[0].endswith("ON transbot.translations USING btree (user_id, created_at DESC)")


def _plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def test_planner_uses_the_recent_history_index_for_a_users_latest_translations(conn):
    user_ids = [new_user(conn, f"planner-{n}@example.com") for n in range(40)]
    conn.execute(
        "INSERT INTO transbot.translations (user_id, target_lang, source_text, translated_text, model, status,"
        " created_at)"
        " SELECT (%s::bigint[])[1 + g %% %s], 'de', 'text ' || g, 'Text ' || g, 'gpt-4o-mini', 'succeeded',"
        "        now() - g * interval '1 minute'"
        " FROM generate_series(1, 6000) AS g", (user_ids, len(user_ids)))
    conn.execute("ANALYZE transbot.translations")
    query = ("SELECT id, source_text, translated_text, created_at FROM transbot.translations"
             " WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20")
    conn.execute(f"PREPARE recent_history(bigint) AS {query}")
    try:
        for mode in ("force_custom_plan", "force_generic_plan"):
            conn.execute(f"SET plan_cache_mode = {mode}")
            raw = conn.execute(f"EXPLAIN (FORMAT JSON) EXECUTE recent_history({user_ids[7]})").fetchone()[0]
            plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
            nodes = list(_plan_nodes(plan))
            scans = [(node["Node Type"], node.get("Index Name")) for node in nodes if "Index Name" in node]
            assert ("Index Scan", "translations_user_recent_idx") in scans, (mode, nodes)
            # The index already yields the newest first: no sort step.
            assert not any("Sort" in node["Node Type"] for node in nodes), (mode, nodes)
    finally:
        conn.execute("RESET plan_cache_mode")
        conn.execute("DEALLOCATE recent_history")
    latest = conn.execute(query.replace("$1", "%s"), (user_ids[7],)).fetchall()
    assert len(latest) == 20
    assert [row[3] for row in latest] == sorted((row[3] for row in latest), reverse=True)


# --- Constraints --------------------------------------------------------------------

REJECTED = [
    # id, columns, error, constraint name contains
    ("negative-input-tokens", {"input_tokens": -1}, errors.CheckViolation, "input_tokens"),
    ("negative-output-tokens", {"output_tokens": -1}, errors.CheckViolation, "output_tokens"),
    ("negative-cost", {"cost_usd": Decimal("-0.000001")}, errors.CheckViolation, "cost_usd"),
    ("negative-latency", {"latency_ms": -1}, errors.CheckViolation, "latency_ms"),
    ("empty-source-text", {"source_text": ""}, errors.CheckViolation, "source_text"),
    ("blank-source-text", {"source_text": "    "}, errors.CheckViolation, "source_text"),
    # Only spaces, tabs and line breaks, e.g. a textarea where Enter was
    # pressed: blank too (btrim() without characters strips spaces only).
    ("whitespace-only-source-text", {"source_text": " \n\t\r\n "}, errors.CheckViolation, "source_text"),
    ("target-lang-english", {"target_lang": "english"}, errors.CheckViolation, "language_code"),
    ("target-lang-EN", {"target_lang": "EN"}, errors.CheckViolation, "language_code"),
    ("target-lang-empty", {"target_lang": ""}, errors.CheckViolation, "language_code"),
    ("source-lang-EN", {"source_lang": "EN"}, errors.CheckViolation, "language_code"),
    ("detected-lang-english", {"detected_lang": "english"}, errors.CheckViolation, "language_code"),
    ("unknown-status", {"status": "done"}, errors.CheckViolation, "status"),
    ("succeeded-without-translated-text", {"status": "succeeded"}, errors.CheckViolation, ""),
    ("failed-without-error", {"status": "failed"}, errors.CheckViolation, ""),
    ("unknown-user", {"user_id": 987_654_321}, errors.ForeignKeyViolation, "user_id"),
]

ACCEPTED = [
    ("pending-minimal", {}),
    ("succeeded-with-everything", {
        "session_id": "streamlit-session-1", "source_lang": "en", "detected_lang": "en",
        "translated_text": "Hallo", "prompt_version": "v3", "input_tokens": 12, "output_tokens": 9,
        "cost_usd": Decimal("0.000123"), "latency_ms": 420, "status": "succeeded",
        "langfuse_trace_id": "trace-0001"}),
    ("failed-with-error", {"status": "failed", "error_message": "upstream timeout"}),
    ("zero-metrics", {"input_tokens": 0, "output_tokens": 0, "cost_usd": Decimal("0"), "latency_ms": 0}),
    ("pt-BR-to-zh-Hans", {"source_lang": "pt-BR", "target_lang": "zh-Hans", "detected_lang": "pt-BR"}),
    ("auto-detected-source", {"source_lang": None, "detected_lang": "fr"}),
]


def valid_translation(user_id: int, overrides: dict | None = None) -> dict:
    return {"user_id": user_id, "target_lang": "de", "source_text": "Hello", "model": "gpt-4o-mini",
            **(overrides or {})}


@pytest.mark.parametrize("columns, error, constraint",
                         [case[1:] for case in REJECTED], ids=[case[0] for case in REJECTED])
def test_invalid_translation_is_rejected(conn, user_id, columns, error, constraint):
    before = conn.execute("SELECT count(*) FROM transbot.translations").fetchone()[0]
    with pytest.raises(error) as raised:
        insert_translation(conn, **valid_translation(user_id, columns))
    assert constraint in (raised.value.diag.constraint_name or ""), raised.value
    assert conn.execute("SELECT count(*) FROM transbot.translations").fetchone()[0] == before


@pytest.mark.parametrize("columns", [case[1] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED])
def test_valid_translation_is_stored(conn, user_id, columns):
    row = insert_translation(conn, **valid_translation(user_id, columns))
    expected = valid_translation(user_id, columns)
    assert {key: row[key] for key in expected} == expected
    assert row["status"] == columns.get("status", "pending")
    assert row["created_at"] is not None


@pytest.mark.parametrize("column, code", [("preferred_target_lang", "EN"), ("preferred_source_lang", "english"),
                                          ("preferred_target_lang", "")])
def test_user_with_a_bad_language_preference_is_rejected(conn, column, code):
    with pytest.raises(errors.CheckViolation):
        new_user(conn, f"bad-lang-{column}-{code}@example.com", **{column: code})


def test_user_with_a_blank_external_id_is_rejected(conn):
    with pytest.raises(errors.CheckViolation):
        new_user(conn, "   ")


def test_new_user_prefers_english_targets_by_default(conn):
    uid = new_user(conn, "defaults@example.com", preferred_source_lang="pt-BR")
    row = conn.execute("SELECT preferred_source_lang, preferred_target_lang, created_at = updated_at"
                       " FROM transbot.users WHERE id = %s", (uid,)).fetchone()
    assert row == ("pt-BR", "en", True)


def test_deleting_a_user_deletes_their_translations(conn):
    doomed = new_user(conn, "doomed@example.com")
    kept = new_user(conn, "kept@example.com")
    for owner in (doomed, doomed, doomed, kept):
        insert_translation(conn, **valid_translation(owner))
    conn.execute("DELETE FROM transbot.users WHERE id = %s", (doomed,))
    count = "SELECT count(*) FROM transbot.translations WHERE user_id = %s"
    assert conn.execute(count, (doomed,)).fetchone() == (0,)
    assert conn.execute(count, (kept,)).fetchone() == (1,)


def test_updating_a_user_bumps_updated_at(conn):
    uid = new_user(conn, "touched@example.com", display_name="Before")
    created, updated = conn.execute(
        "SELECT created_at, updated_at FROM transbot.users WHERE id = %s", (uid,)).fetchone()
    # Each autocommit statement is its own transaction, so now() moves on;
    # the trigger wins even over an explicit attempt to keep the old value.
    conn.execute("UPDATE transbot.users SET display_name = 'After', updated_at = %s WHERE id = %s", (updated, uid))
    row = conn.execute("SELECT display_name, created_at, updated_at FROM transbot.users WHERE id = %s",
                       (uid,)).fetchone()
    assert row[0] == "After"
    assert row[1] == created
    assert row[2] > updated

"""Clients that connect to a test stack from the host, as TransBot does."""

from __future__ import annotations

import psycopg
import redis

from .stack import Stack


def postgres(stack: Stack, **overrides) -> psycopg.Connection:
    env = stack.env_file()
    params = dict(host="127.0.0.1", port=stack.ports["postgres"], user=env["POSTGRES_USER"],
                  password=env["POSTGRES_PASSWORD"], dbname=env["POSTGRES_DB"], connect_timeout=5)
    params.update(overrides)
    return psycopg.connect(**params, autocommit=True)


def redis_client(stack: Stack, password: str | None = "from-env") -> redis.Redis:
    if password == "from-env":
        password = stack.env_file()["REDIS_PASSWORD"]
    return redis.Redis(host="127.0.0.1", port=stack.ports["redis"], password=password,
                       socket_timeout=5, decode_responses=True)


def add_translation(conn: psycopg.Connection, external_id: str, text: str) -> int:
    """Writes a user (if new) and one finished translation; returns its id."""
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO transbot.users (external_id, display_name) VALUES (%s, %s) "
            "ON CONFLICT (external_id) DO UPDATE SET display_name = EXCLUDED.display_name RETURNING id",
            (external_id, external_id),
        )
        user_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO transbot.translations (user_id, source_lang, target_lang, source_text, translated_text,"
            " model, input_tokens, output_tokens, cost_usd, latency_ms, status)"
            " VALUES (%s, 'en', 'de', %s, %s, 'gpt-4o-mini', 12, 9, 0.0001, 420, 'succeeded') RETURNING id",
            (user_id, text, f"[de] {text}"),
        )
        return cur.fetchone()[0]


def translation_texts(conn: psycopg.Connection) -> list[str]:
    with conn.cursor() as cur:
        cur.execute("SELECT source_text FROM transbot.translations ORDER BY id")
        return [row[0] for row in cur.fetchall()]


def write_row_and_key(stack: Stack, who: str, text: str, key: str, value: str) -> None:
    """One translation row and one Redis key: the data a test checks later."""
    with postgres(stack) as conn:
        add_translation(conn, who, text)
    cache = redis_client(stack)
    try:
        cache.set(key, value)
    finally:
        cache.close()

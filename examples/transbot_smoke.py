"""Connects to the stack exactly as TransBot does, and proves each part works.

Reads the settings ./scripts/app-env.sh prints (DATABASE_URL, REDIS_URL,
LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_HOST) from the
environment or from an env file, then:

  1. PostgreSQL: records a user and one finished translation in the
     transbot schema;
  2. Redis: caches the translation under a key with a one-hour expiry;
  3. Langfuse: checks the API keys and records the call as a trace with a
     generation, linked from the translation row.

No OpenAI call is made: the "translation" is a stand-in string.

    pip install -r examples/requirements.txt
    ./scripts/app-env.sh --write .env.transbot
    python examples/transbot_smoke.py --env-file .env.transbot
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import uuid
from pathlib import Path

import psycopg
import redis
from langfuse import Langfuse

REQUIRED = ("DATABASE_URL", "REDIS_URL", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST")


def load_env_file(path: Path) -> None:
    """Adds KEY=VALUE lines of an env file to os.environ (the shell wins)."""
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            os.environ.setdefault(key.strip(), value.strip())


def translate(text: str, target: str) -> str:
    # TransBot asks an LLM here; the smoke test only needs a deterministic answer.
    return f"[{target}] {text}"


def record_translation(database_url: str, user: str, text: str, translated: str, trace_id: str,
                       latency_ms: int) -> int:
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        user_id = conn.execute(
            "INSERT INTO transbot.users (external_id, display_name, preferred_target_lang) VALUES (%s, %s, 'de')"
            " ON CONFLICT (external_id) DO UPDATE SET display_name = EXCLUDED.display_name RETURNING id",
            (user, user.split("@")[0]),
        ).fetchone()[0]
        return conn.execute(
            "INSERT INTO transbot.translations (user_id, session_id, source_lang, target_lang, detected_lang,"
            " source_text, translated_text, model, prompt_version, input_tokens, output_tokens, cost_usd,"
            " latency_ms, status, langfuse_trace_id)"
            " VALUES (%s, %s, NULL, 'de', 'en', %s, %s, 'gpt-4o-mini', 'v1', %s, %s, 0.000042, %s, 'succeeded', %s)"
            " RETURNING id",
            (user_id, "smoke-session", text, translated, len(text.split()), len(translated.split()),
             latency_ms, trace_id),
        ).fetchone()[0]


def cache_translation(redis_url: str, text: str, target: str, translated: str) -> str:
    key = "translation:%s:%s" % (target, hashlib.sha256(text.encode()).hexdigest()[:16])
    client = redis.Redis.from_url(redis_url, socket_timeout=10, decode_responses=True)
    client.set(key, translated, ex=3600)
    assert client.get(key) == translated
    client.close()
    return key


def trace_translation(text: str, translated: str, trace_id: str) -> None:
    langfuse = Langfuse()  # reads LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_HOST
    if not langfuse.auth_check():
        raise RuntimeError("Langfuse rejected the API keys")
    trace = langfuse.trace(id=trace_id, name="translate", user_id="smoke@transbot.local",
                           session_id="smoke-session", input=text, output=translated)
    trace.generation(name="openai.chat", model="gpt-4o-mini", input=text, output=translated,
                     usage={"input": len(text.split()), "output": len(translated.split())})
    langfuse.flush()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, help="an env file written by ./scripts/app-env.sh --write")
    parser.add_argument("--text", default="Good morning, how are you?")
    args = parser.parse_args(argv)
    if args.env_file:
        load_env_file(args.env_file)
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        print(f"missing settings: {', '.join(missing)}; run ./scripts/app-env.sh", file=sys.stderr)
        return 2

    started = time.monotonic()
    translated = translate(args.text, "de")
    trace_id = str(uuid.uuid4())
    trace_translation(args.text, translated, trace_id)
    latency_ms = int((time.monotonic() - started) * 1000)
    row_id = record_translation(os.environ["DATABASE_URL"], "smoke@transbot.local", args.text, translated,
                                trace_id, latency_ms)
    key = cache_translation(os.environ["REDIS_URL"], args.text, "de", translated)
    print(json.dumps({"translation_id": row_id, "cache_key": key, "trace_id": trace_id}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

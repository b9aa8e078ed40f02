"""Connects to the stack exactly as TransBot does, and proves each part works.

Reads the settings ./scripts/app-env.sh prints (DATABASE_URL, REDIS_URL,
LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_HOST) from the
environment or from an env file, then:

  1. Langfuse: checks the API keys, records the call as a trace with a
     generation, and reads the trace back through the public API
     (GET /api/public/traces/{id}): the SDK never raises when an upload is
     refused (a 4xx answer is dropped without even a log line), so without
     the read-back a lost trace would go unnoticed;
  2. PostgreSQL: records a user and one finished translation in the
     transbot schema, linked to the trace;
  3. Redis: caches the translation under a key with a one-hour expiry.

No OpenAI call is made: the "translation" is a stand-in string. Exit status:
0 all three work, 1 one of them failed (one line on stderr says which and
why), 2 settings are missing.

    pip install -r examples/requirements.txt
    ./scripts/app-env.sh --write .env.transbot     # git-ignored: it holds passwords
    python examples/transbot_smoke.py --env-file .env.transbot
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import psycopg
import redis
from langfuse import Langfuse

REQUIRED = ("DATABASE_URL", "REDIS_URL", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST")


class SmokeFailure(Exception):
    """One part of the stack does not work; the message says which and why."""


class _SdkErrors(logging.Handler):
    """Keeps what the Langfuse SDK logs at ERROR (it never raises on a failed
    upload), so the one failure message can say what the server answered."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().splitlines()[0])


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
    try:
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
                " VALUES (%s, %s, NULL, 'de', 'en', %s, %s, 'gpt-4o-mini', 'v1', %s, %s, 0.000042, %s,"
                " 'succeeded', %s) RETURNING id",
                (user_id, "smoke-session", text, translated, len(text.split()), len(translated.split()),
                 latency_ms, trace_id),
            ).fetchone()[0]
    except psycopg.Error as error:
        raise SmokeFailure(f"PostgreSQL (DATABASE_URL) failed: {_first_line(error)}") from error


def cache_translation(redis_url: str, text: str, target: str, translated: str) -> str:
    key = "translation:%s:%s" % (target, hashlib.sha256(text.encode()).hexdigest()[:16])
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=10, decode_responses=True)
        try:
            client.set(key, translated, ex=3600)
            cached = client.get(key)
        finally:
            client.close()
    except redis.RedisError as error:
        raise SmokeFailure(f"Redis (REDIS_URL) failed: {_first_line(error)}") from error
    if cached != translated:
        raise SmokeFailure(f"Redis (REDIS_URL) did not return the value just cached under {key}")
    return key


def trace_translation(text: str, translated: str, trace_id: str) -> None:
    """Sends the trace with the SDK, as TransBot does."""
    langfuse = Langfuse()  # reads LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_HOST
    try:
        langfuse.auth_check()
    except Exception as error:  # noqa: BLE001 - the SDK raises several types here
        raise SmokeFailure(f"Langfuse's key check at {os.environ['LANGFUSE_HOST']} failed "
                           f"(LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_HOST): {_first_line(error)}") from error
    trace = langfuse.trace(id=trace_id, name="translate", user_id="smoke@transbot.local",
                           session_id="smoke-session", input=text, output=translated)
    trace.generation(name="openai.chat", model="gpt-4o-mini", input=text, output=translated,
                     usage={"input": len(text.split()), "output": len(translated.split())})
    langfuse.flush()


def read_trace_back(trace_id: str, wait_seconds: float, sdk_errors: list[str]) -> dict:
    """GET /api/public/traces/{id} until it answers 200 or wait_seconds pass.

    Langfuse v2 stores an ingested trace before answering the upload, so it
    is there at once; the wait only covers a slow server."""
    host = os.environ["LANGFUSE_HOST"].rstrip("/")
    url = f"{host}/api/public/traces/{urllib.parse.quote(trace_id, safe='')}"
    credentials = f"{os.environ['LANGFUSE_PUBLIC_KEY']}:{os.environ['LANGFUSE_SECRET_KEY']}"
    request = urllib.request.Request(url, headers={
        "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
        "Accept": "application/json",
    })
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                trace = json.load(answer)
            break
        except urllib.error.HTTPError as error:
            last = f"GET /api/public/traces/{trace_id} answered {error.code}"
            if error.code in (401, 403):
                raise SmokeFailure(f"Langfuse refused the API keys when reading the trace back ({last})") from error
        except (urllib.error.URLError, OSError, ValueError) as error:
            last = f"GET /api/public/traces/{trace_id} failed: {_first_line(error)}"
        if time.monotonic() >= deadline:
            said = f"; the SDK reported: {sdk_errors[0]}" if sdk_errors else ""
            raise SmokeFailure(f"the trace did not arrive in Langfuse within {wait_seconds:g}s ({last}{said})")
        time.sleep(0.5)
    generations = [o for o in trace.get("observations") or [] if o.get("type") == "GENERATION"]
    if trace.get("id") != trace_id or trace.get("name") != "translate" or not generations:
        raise SmokeFailure(f"Langfuse stored trace {trace_id} incompletely "
                           f"(name {trace.get('name')!r}, {len(generations)} generation(s), expected 'translate' and 1)")
    return trace


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def run(text: str, wait_seconds: float) -> dict:
    sdk_errors = _SdkErrors()
    sdk_logger = logging.getLogger("langfuse")
    sdk_logger.addHandler(sdk_errors)
    sdk_logger.propagate = False  # its messages end up in the one line we print
    started = time.monotonic()
    translated = translate(text, "de")
    trace_id = str(uuid.uuid4())
    trace_translation(text, translated, trace_id)
    read_trace_back(trace_id, wait_seconds, sdk_errors.messages)
    latency_ms = int((time.monotonic() - started) * 1000)
    row_id = record_translation(os.environ["DATABASE_URL"], "smoke@transbot.local", text, translated,
                                trace_id, latency_ms)
    key = cache_translation(os.environ["REDIS_URL"], text, "de", translated)
    return {"translation_id": row_id, "cache_key": key, "trace_id": trace_id}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, help="an env file written by ./scripts/app-env.sh --write")
    parser.add_argument("--text", default="Good morning, how are you?")
    parser.add_argument("--trace-wait", type=float, default=10.0, metavar="SECONDS",
                        help="how long to wait for the trace to be readable (default: 10)")
    args = parser.parse_args(argv)
    if args.env_file:
        load_env_file(args.env_file)
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        print(f"smoke: missing settings: {', '.join(missing)}; run ./scripts/app-env.sh", file=sys.stderr)
        return 2
    try:
        written = run(args.text, args.trace_wait)
    except SmokeFailure as failure:
        print(f"smoke: FAILED: {failure}", file=sys.stderr)
        return 1
    print(json.dumps(written))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

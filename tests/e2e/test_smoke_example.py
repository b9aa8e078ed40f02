"""The README's smoke example proves the stack works, and fails loudly when
it does not: examples/transbot_smoke.py reads its trace back through
Langfuse's public API and exits 1, with one line saying so, when the trace
did not arrive, although the SDK itself never raises on a refused upload
(and drops one refused with a 4xx without a log line).

One Compose v2 stack, the README's steps in order: app-env.sh --write to the
git-ignored .env.transbot in the copy, run the example, then the same with a
Langfuse that refuses ingestion.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from support import clients
from support.engine import REPO_ROOT
from support.stack import Stack

from .langfuse_override import uses_standins, write_langfuse_env

EXAMPLE = REPO_ROOT / "examples" / "transbot_smoke.py"
# The settings the example reads: the developer's own shell must not win.
APP_VARIABLES = ("DATABASE_URL", "REDIS_URL", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST")

# The real image has no switch to refuse ingestion: there a trigger in
# Langfuse's database refuses new traces instead (each event then fails).
REFUSE_TRACES_SQL = """
CREATE FUNCTION public.test_refuse_traces() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'ingestion refused by the test'; END $$;
CREATE TRIGGER test_refuse_traces BEFORE INSERT ON traces
  FOR EACH ROW EXECUTE FUNCTION public.test_refuse_traces();
"""


@pytest.fixture(scope="module")
def stack(engine, images, compose_v2):
    stack = Stack.create(compose_v2, images)
    yield stack
    stack.destroy()


@pytest.fixture(autouse=True)
def _diagnostics_on_failure(request):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "stack" in request.fixturenames:
        stack = request.getfixturevalue("stack")
        print(f"\n===== diagnostics for {stack.project} =====\n{stack.diagnostics()}")


def run_example(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in APP_VARIABLES}
    return subprocess.run([sys.executable, str(EXAMPLE), "--env-file", str(stack.root / ".env.transbot"), *args],
                          capture_output=True, text=True, timeout=180, env=env, cwd=stack.root)


def trace_ids_in_langfuse(stack: Stack) -> set[str]:
    result = subprocess.run(
        ["docker", "exec", stack.container("postgres"), "sh", "-c",
         'psql -qtA -U "$POSTGRES_USER" -d langfuse -c "SELECT id FROM traces"'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def refuse_ingestion(stack: Stack) -> None:
    if uses_standins(stack):
        write_langfuse_env(stack, {"STANDIN_REJECT_INGESTION": "1"})
        started = stack.script("start.sh")  # recreates langfuse with the new environment
        assert started.returncode == 0, started
        return
    result = subprocess.run(
        ["docker", "exec", "-i", stack.container("postgres"), "sh", "-c",
         'psql -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d langfuse'],
        input=REFUSE_TRACES_SQL,
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_readme_steps_bring_up_the_stack_and_write_the_ignored_env_file(stack):
    started = stack.script("start.sh")
    assert started.returncode == 0, started
    written = stack.script("app-env.sh", "--write", ".env.transbot", cwd=stack.root)
    assert written.returncode == 0, written
    assert "REDIS_URL=redis://default:" in (stack.root / ".env.transbot").read_text()


def test_the_example_exits_0_after_reading_its_trace_back(stack):
    completed = run_example(stack)
    assert completed.returncode == 0, completed.stderr
    written = json.loads(completed.stdout)
    assert written["trace_id"] in trace_ids_in_langfuse(stack)
    with clients.postgres(stack) as conn:
        linked = conn.execute("SELECT langfuse_trace_id FROM transbot.translations WHERE id = %s",
                              (written["translation_id"],)).fetchone()
    assert linked == (written["trace_id"],)
    assert clients.redis_client(stack).get(written["cache_key"]) == "[de] Good morning, how are you?"


def test_the_example_exits_1_and_says_so_when_langfuse_refuses_the_trace(stack):
    refuse_ingestion(stack)
    before = trace_ids_in_langfuse(stack)
    with clients.postgres(stack) as conn:
        rows_before = conn.execute("SELECT count(*) FROM transbot.translations").fetchone()[0]
    completed = run_example(stack, "--trace-wait", "3")
    assert completed.returncode == 1, f"exit {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
    assert completed.stdout == "", "a failed run must not print the success JSON"
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr:\n{completed.stderr}"
    # The SDK drops a batch refused with a 4xx without a word; when it does
    # log something (a 5xx, or per-event errors), the line quotes it.
    assert re.fullmatch(r"smoke: FAILED: the trace did not arrive in Langfuse within 3s "
                        r"\(GET /api/public/traces/[0-9a-f-]{36} answered 404(; the SDK reported: .+)?\)",
                        lines[0]), lines[0]
    assert trace_ids_in_langfuse(stack) == before, "the refused trace was stored after all"
    with clients.postgres(stack) as conn:
        assert conn.execute("SELECT count(*) FROM transbot.translations").fetchone()[0] == rows_before
    secrets = stack.env_file()
    for name in ("LANGFUSE_SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        assert secrets[name] not in completed.stderr, f"{name} was printed"


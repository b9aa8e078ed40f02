"""reset.sh as a person runs it: at a terminal, asked to type 'yes'.

The README's own example, `./scripts/reset.sh redis` ("wipe the cache, keep
everything else"), is run exactly so on the real engine, on a
pseudo-terminal: answered "yes", Redis' data is gone and PostgreSQL's is
kept; answered anything else, nothing is deleted or stopped and it exits 1.
"""

from __future__ import annotations

import pytest

from support import clients
from support.stack import Stack

from .common import containers, run_on_terminal, script_ok


@pytest.fixture(scope="module")
def declined_stack(engine, images, compose_v2):
    """One running stack with a row and a key, for the declined answers."""
    stack = Stack.create(compose_v2, images)
    try:
        script_ok(stack, "start.sh")
        clients.write_row_and_key(stack, "kept@example.com", "kept row", "cache:kept", "yes")
        yield stack
    finally:
        stack.destroy()


@pytest.mark.parametrize("answer", ["no", "y", "YES", ""], ids=["no", "y", "YES", "just-enter"])
def test_reset_answered_anything_but_yes_deletes_nothing(declined_stack, answer):
    stack = declined_stack
    redis_files = sorted(path.name for path in (stack.root / "volumes" / "redis").iterdir())
    before = containers(stack)

    result = run_on_terminal(stack, "reset.sh", "redis", answer=answer)

    assert result.returncode == 1, result
    assert "volumes/redis" in result.stdout, "it should say what it would delete"
    assert "not confirmed; nothing was deleted" in result.stdout, result
    assert "deleted volumes/redis" not in result.stdout, result
    assert containers(stack) == before, "something was stopped or restarted before confirmation"
    assert sorted(path.name for path in (stack.root / "volumes" / "redis").iterdir()) == redis_files
    assert clients.redis_client(stack).get("cache:kept") == "yes"


def test_reset_redis_answered_yes_wipes_the_cache_and_keeps_postgres(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    clients.write_row_and_key(stack, "kept@example.com", "kept row", "cache:gone", "soon")
    before = containers(stack)

    result = run_on_terminal(stack, "reset.sh", "redis", answer="yes")

    assert result.returncode == 0, result
    assert "Type 'yes' to delete this data:" in result.stdout
    assert "deleted volumes/redis" in result.stdout, result
    assert "volumes/postgres" not in result.stdout, "it listed postgres' data for deletion"
    assert list((stack.root / "volumes" / "redis").iterdir()) == []
    after = containers(stack)
    assert after["redis"][3] == "exited", "redis should be stopped while its data is deleted"
    assert (after["postgres"], after["langfuse"]) == (before["postgres"], before["langfuse"]), \
        "postgres or langfuse was stopped or restarted"
    script_ok(stack, "start.sh")
    assert clients.redis_client(stack).get("cache:gone") is None
    with clients.postgres(stack) as conn:
        assert clients.translation_texts(conn) == ["kept row"]

"""A developer pastes a huge password into .env.infra.

Journey: a REDIS_PASSWORD longer than the 16384 bytes Redis accepts before
a client has logged in used to start a Redis that never turned healthy
(the wait ran out its whole timeout); a value of 1 MB broke the scripts
with "internal error ... Argument list too long". Now any script that reads
.env.infra refuses such a value up front, in one error line naming the
variable, its length and the limit, exits 1 and starts nothing. The limits
are the real ones: Redis' for its password, and for every other value one
that keeps the environment the scripts hand to Docker inside Linux's
(128 KiB a variable, ARG_MAX for all).
"""

from __future__ import annotations

import pytest

from .harness import one_line_error

REDIS_LIMIT = 16384
VALUE_LIMIT = 65536


def refused(harness, script: str = "start.sh", *args: str, env: dict[str, str] | None = None) -> str:
    result = harness.run(script, *args, env=env)
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert "internal error" not in line
    assert harness.compose_calls() == [], "something was started"
    return line


@pytest.mark.parametrize("length", [REDIS_LIMIT + 1, 100_000, 1_048_576])
def test_a_redis_password_longer_than_redis_accepts_is_refused_before_anything_starts(harness, length):
    harness.write_env({"REDIS_PASSWORD": "r" * length})
    line = refused(harness, "start.sh")
    assert f"(REDIS_PASSWORD) is {length} bytes long" in line, line
    assert f"Redis accepts a password of at most {REDIS_LIMIT} bytes" in line, line


def test_a_redis_password_of_exactly_the_limit_is_accepted(harness):
    harness.write_env({"REDIS_PASSWORD": "r" * REDIS_LIMIT})
    result = harness.run("start.sh", "--no-wait")
    assert result.returncode == 0, result
    assert len(harness.compose_up_calls()) == 1


def test_the_limit_counts_bytes_not_characters(harness):
    # 8193 characters of two bytes each: 16386 bytes.
    harness.write_env({"REDIS_PASSWORD": "ü" * (REDIS_LIMIT // 2 + 1)})
    line = refused(harness, "start.sh")
    assert f"is {REDIS_LIMIT + 2} bytes long" in line, line


@pytest.mark.parametrize("script", ["start.sh", "health-check.sh", "stop.sh", "app-env.sh"])
def test_any_value_over_the_environment_budget_is_refused(harness, script):
    harness.write_env({"LANGFUSE_SECRET": "s" * (VALUE_LIMIT + 1)})
    line = refused(harness, script)
    assert f"(LANGFUSE_SECRET) is {VALUE_LIMIT + 1} bytes long" in line, line
    assert f"at most {VALUE_LIMIT} bytes" in line, line


def test_a_long_password_exported_in_the_shell_is_refused_with_the_other_problems(harness):
    harness.write_env()
    result = harness.run("start.sh", env={"REDIS_PASSWORD": "r" * 20_000})
    assert result.returncode == 1, result
    assert result.stderr.startswith("error: .env.infra cannot be used as it is:\n"), result
    assert "  - REDIS_PASSWORD exported in your shell is 20000 bytes long, and Redis accepts a password of at " \
        f"most {REDIS_LIMIT} bytes" in result.stderr, result
    assert harness.compose_calls() == []

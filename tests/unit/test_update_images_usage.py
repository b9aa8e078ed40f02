"""A developer calls update-images.sh wrongly: a service that is not built
in, a bad --timeout, --revert with no update to revert. Each is one error
line, and nothing is pulled, tagged or recreated."""

from __future__ import annotations

import pytest

from unit.harness import one_line_error


def _nothing_done(harness) -> None:
    acting = [call for call in harness.calls()
              if call.program == "docker" and call.args[:1] in (("pull",), ("tag",), ("run",), ("exec",))]
    assert acting == []
    assert harness.compose_up_calls() == []
    assert not (harness.repo / "backups").exists()


@pytest.mark.parametrize("name", ["postgre", "worker"])
def test_a_service_that_is_not_built_in_is_a_usage_error(harness, name):
    harness.write_env()
    result = harness.run("update-images.sh", "redis", name, env=harness.set_engine())
    assert result.returncode == 2, result
    line = one_line_error(result)
    assert f"unknown service '{name}'" in line and "postgres langfuse redis" in line, line
    _nothing_done(harness)


def test_a_timeout_that_is_no_number_of_seconds_is_a_usage_error(harness):
    harness.write_env()
    result = harness.run("update-images.sh", "--timeout", "soon", env=harness.set_engine())
    assert result.returncode == 2, result
    assert "--timeout takes a whole number of seconds" in one_line_error(result)
    _nothing_done(harness)


def test_revert_without_an_update_says_there_is_nothing_to_revert(harness):
    harness.write_env()
    result = harness.run("update-images.sh", "--revert", env=harness.set_engine())
    assert result.returncode == 1, result
    assert "no update to revert" in one_line_error(result)
    _nothing_done(harness)

"""A developer starts the stack while another program holds one of its ports.

Journey: a local PostgreSQL already listens on the port the stack wants;
`./scripts/start.sh` notices before asking Compose for anything, names the
port, the service and a variable to change (`POSTGRES_PORT=<port+1>`), and
exits 1. A port exported in the shell wins over .env.infra, both for the
check and in the message.
"""

from __future__ import annotations

import re
import socket
from contextlib import ExitStack, contextmanager

import pytest

from support.engine import free_port


@contextmanager
def listening(port: int = 0):
    """A socket listening on 127.0.0.1:PORT (any free port when 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.mark.parametrize("script", ["start.sh", "restart.sh"])
def test_busy_port_is_named_with_a_free_alternative_and_nothing_starts(harness, script):
    written = harness.write_env()
    with listening() as busy:
        result = harness.run(script, "--no-wait", env={"POSTGRES_PORT": str(busy)})
    assert result.returncode == 1, result
    assert f"port {busy} for postgres is already in use" in result.stderr
    assert f"POSTGRES_PORT={busy + 1}" in result.stderr
    assert harness.compose_up_calls() == []
    assert harness.env_file.read_bytes() == written
    assert "internal error" not in result.stderr


def test_port_exported_in_the_shell_wins_over_the_env_file(harness):
    file_port = free_port()
    harness.write_env({"POSTGRES_PORT": str(file_port)})
    with listening() as busy:
        result = harness.run("start.sh", "--no-wait", env={"POSTGRES_PORT": str(busy)})
    assert result.returncode == 1, result
    assert f"port {busy} for postgres" in result.stderr
    assert f"POSTGRES_PORT={busy + 1}" in result.stderr
    assert str(file_port) not in result.output
    assert harness.compose_up_calls() == []


def test_busy_port_in_the_env_file_is_named(harness):
    with listening() as busy:
        harness.write_env({"REDIS_PORT": str(busy)})
        result = harness.run("start.sh", "--no-wait")
    assert result.returncode == 1, result
    assert f"port {busy} for redis is already in use" in result.stderr
    assert f"REDIS_PORT={busy + 1}" in result.stderr
    assert harness.compose_up_calls() == []


def test_every_busy_port_is_named_in_one_run(harness):
    harness.write_env()
    with listening() as postgres_port, listening() as langfuse_port:
        result = harness.run("start.sh", "--no-wait",
                             env={"POSTGRES_PORT": str(postgres_port), "LANGFUSE_PORT": str(langfuse_port)})
    assert result.returncode == 1, result
    assert f"port {postgres_port} for postgres" in result.stderr
    assert f"port {langfuse_port} for langfuse" in result.stderr
    assert harness.compose_up_calls() == []


def test_only_the_ports_of_the_services_to_start_are_checked(harness):
    """redis alone does not need the postgres port; langfuse needs postgres."""
    harness.write_env()
    with listening() as busy:
        alone = harness.run("start.sh", "redis", "--no-wait", env={"POSTGRES_PORT": str(busy)})
        with_dependency = harness.run("start.sh", "langfuse", "--no-wait", env={"POSTGRES_PORT": str(busy)})
    assert alone.returncode == 0, alone
    assert [call.compose_command for call in harness.compose_up_calls()] == [["up", "-d", "redis"]]
    assert with_dependency.returncode == 1, with_dependency
    assert f"port {busy} for postgres" in with_dependency.stderr


def test_free_ports_let_compose_up_run(harness):
    harness.write_env()
    result = harness.run("start.sh", "--no-wait")
    assert result.returncode == 0, result
    assert [call.compose_command for call in harness.compose_up_calls()] == [["up", "-d"]]
    assert "not waiting for health" in result.stdout


def test_suggested_port_for_the_highest_port_is_a_valid_port(harness):
    """When 65535 is busy, suggesting POSTGRES_PORT=65536 sends the developer
    straight into the next error ("must be a port number from 1 to 65535")."""
    harness.write_env()
    with ExitStack() as stack:
        try:
            stack.enter_context(listening(65535))
        except OSError:
            pass  # another program listens there: the port is busy all the same
        result = harness.run("start.sh", "--no-wait", env={"POSTGRES_PORT": "65535"})
    assert result.returncode == 1, result
    assert "port 65535 for postgres is already in use" in result.stderr
    suggested = re.search(r"POSTGRES_PORT=(\d+)", result.stderr)
    assert suggested, result
    assert 1 <= int(suggested.group(1)) <= 65535, f"suggests an invalid port:\n{result}"

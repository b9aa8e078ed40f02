"""Redis 7 run with exactly the compose file's command, environment and
healthcheck: a password is required, AOF persistence is on, and the
healthcheck only passes for a client that is really served."""

from __future__ import annotations

import hashlib
import socket
import uuid

import pytest
import redis

from .servers import docker, healthcheck_command, start_redis

# Spaces, both quotes, dollar signs, a hash, a backslash and non-ASCII: it
# must reach Redis unchanged.
PASSWORD = "s3cret pass \"dq\" 'sq' $HOME ${REDIS} #not-a-comment \\ ünïcødé ✓"


@pytest.fixture(scope="module")
def server(module_pool):
    return start_redis(module_pool, "redis", password=PASSWORD)


def raw_command(server, line: bytes) -> bytes:
    """One inline command on a fresh connection, no client library involved."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(line + b"\r\n")
        return sock.recv(4096)


def test_the_password_is_on_no_command_line(server):
    assert not any(PASSWORD in word or "REDIS" in word for word in server.command)
    listing = docker("ps", "--no-trunc", "--filter", f"name=^{server.container.name}$",
                     "--format", "{{.Command}}").stdout
    assert "transbot-redis-server" in listing and PASSWORD not in listing
    processes = docker("top", server.container.name, "-o", "pid,args").stdout
    assert "redis-server" in processes and PASSWORD not in processes


def test_unauthenticated_client_is_refused_with_noauth(server):
    assert raw_command(server, b"PING").startswith(b"-NOAUTH")
    assert raw_command(server, b"GET anything").startswith(b"-NOAUTH")
    with pytest.raises(redis.AuthenticationError):
        server.client(password=None).get("anything")


def test_client_with_a_wrong_password_is_refused(server):
    with pytest.raises(redis.AuthenticationError):
        server.client(password="s3cret").ping()
    # A prefix of the real password (up to the first space) is no better.
    with pytest.raises(redis.AuthenticationError):
        server.client(password=PASSWORD.split(" ")[0]).ping()


def test_password_with_spaces_quotes_dollars_hash_and_non_ascii_works(server):
    client = server.client()
    assert client.ping() is True
    # Redis holds the SHA-256 of exactly the bytes a client sends with AUTH.
    expected = hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert client.acl_getuser("default")["passwords"] == [expected]


def test_append_only_file_is_on_with_fsync_every_second(server):
    client = server.client()
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    assert client.info("persistence")["aof_enabled"] == 1


def test_redis_appendfsync_variable_sets_the_fsync_policy(module_pool):
    always = start_redis(module_pool, "redis-always", password=PASSWORD, appendfsync="always")
    client = always.client()
    assert client.config_get("appendfsync") == {"appendfsync": "always"}
    assert client.config_get("appendonly") == {"appendonly": "yes"}


def test_append_only_directory_belongs_to_the_redis_user(server):
    result = server.container.exec("stat", "-c", "%u %F", "/data/appendonlydir")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 1) == ["999", "directory\n"]
    listing = server.container.exec("ls", "/data/appendonlydir").stdout.split()
    assert any(name.endswith(".manifest") for name in listing), listing


def test_a_written_key_survives_a_container_restart(server):
    key, value = f"survivor:{uuid.uuid4()}", "still here ✓"
    server.client().set(key, value)
    # The write is in the append-only file before the reply went out.
    aof = server.container.exec("sh", "-c", "cat /data/appendonlydir/*.incr.aof")
    assert key in aof.stdout
    server.container.restart()
    server.wait_ready()
    assert server.client().get(key) == value


def test_compose_healthcheck_passes_with_the_password_from_the_environment(server):
    # The healthcheck's redis-cli authenticates with the server's own password.
    assert server.container.env["REDISCLI_AUTH"] == PASSWORD
    result = server.container.exec(*healthcheck_command("redis"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_healthcheck_fails_with_a_wrong_password(server):
    result = server.container.exec(*healthcheck_command("redis"), env={"REDISCLI_AUTH": "wrong"})
    assert result.returncode != 0


def test_compose_healthcheck_fails_without_a_password(server):
    probe = healthcheck_command("redis")
    result = server.container.exec("env", "-u", "REDISCLI_AUTH", *probe)
    assert result.returncode != 0


def test_plain_redis_cli_ping_exits_zero_even_on_noauth(server):
    # Why the healthcheck passes -e: without it, redis-cli's exit status does
    # not reflect an error reply.
    unauthenticated = server.container.exec("env", "-u", "REDISCLI_AUTH", "redis-cli", "ping")
    assert unauthenticated.returncode == 0
    assert "NOAUTH" in unauthenticated.stdout + unauthenticated.stderr
    wrong = server.container.exec("redis-cli", "ping", env={"REDISCLI_AUTH": "wrong"})
    assert wrong.returncode == 0
    assert "NOAUTH" in wrong.stdout + wrong.stderr

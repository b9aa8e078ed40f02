"""Nothing is exposed that should not be.

- Every published port listens on 127.0.0.1 only (the host's listening
  sockets, from `ss`); BIND_ADDRESS=0.0.0.0 changes that on purpose. No
  traffic is ever sent to anything but 127.0.0.1.
- PostgreSQL and Redis refuse clients without the password; Langfuse's
  public API refuses requests without valid keys.
- .env.infra is mode 0600; no secret appears in any script's output, in the
  service logs the scripts print (even when a service logs one), in the
  host's process list while scripts run, or in Docker's container list.
- The containers run nothing privileged and mount nothing from outside the
  repository folder.
"""

from __future__ import annotations

import base64
import json
import socket
import stat
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from support import clients
from support.engine import run

from .common import (
    SERVICES,
    ProcessListWatcher,
    assert_no_secret,
    health_check,
    listening_addresses,
    script_ok,
    secrets_of,
)


class Seen:
    """What the process-list watcher saw while the fixture started the stack."""

    start_hits: dict = {}
    start_scans = 0
    scripts_watched = 0


@pytest.fixture(scope="module")
def stack(module_stack):
    stack = module_stack()
    # .env.infra exists first, so the watcher knows every secret to look for.
    script_ok(stack, "init-env.sh")
    with ProcessListWatcher(secrets_of(stack)) as watcher:
        script_ok(stack, "start.sh")
    Seen.start_hits, Seen.start_scans = dict(watcher.hits), watcher.scans
    Seen.scripts_watched = 1
    return stack


# --- Listening sockets -----------------------------------------------------------------------


def test_every_published_port_listens_on_loopback_only_by_default(stack):
    for service in SERVICES:
        port = stack.ports[service]
        assert listening_addresses(port) == {"127.0.0.1"}, f"{service} port {port}: {listening_addresses(port)}"


def test_bind_address_opens_the_ports_on_purpose_and_back(stack):
    opened = script_ok(stack, "restart.sh", env=stack.env(BIND_ADDRESS="0.0.0.0"))
    try:
        for service in SERVICES:
            port = stack.ports[service]
            assert "0.0.0.0" in listening_addresses(port), f"{service} port {port}: {listening_addresses(port)}"
        # The scripts still reach the stack over loopback.
        assert health_check(stack).returncode == 0
        assert "127.0.0.1" in opened.stdout
    finally:
        script_ok(stack, "restart.sh")
    for service in SERVICES:
        assert listening_addresses(stack.ports[service]) == {"127.0.0.1"}


# --- Authentication ------------------------------------------------------------------------------


def test_postgres_refuses_clients_without_the_right_password(stack):
    values = stack.env_file()
    attempts = {
        "no password": dict(password=""),
        "wrong password": dict(password="not-the-password"),
        "superuser name without password": dict(user="postgres", password=""),
        "langfuse role, wrong password": dict(user="langfuse", dbname="langfuse", password="wrong"),
        "right password, other user": dict(user="langfuse", dbname="langfuse",
                                           password=values["POSTGRES_PASSWORD"]),
    }
    for what, overrides in attempts.items():
        with pytest.raises(psycopg.OperationalError) as refused:
            clients.postgres(stack, **overrides).close()
        message = str(refused.value)
        assert "password" in message or "does not exist" in message, f"{what}: {message}"
    with clients.postgres(stack) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def _redis_exchange(port: int, *commands: bytes) -> list[bytes]:
    """Sends raw RESP inline commands on one connection; returns each reply line."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        reader = conn.makefile("rb")
        for command in commands:
            conn.sendall(command + b"\r\n")
            replies.append(reader.readline().rstrip(b"\r\n"))
    return replies


def test_redis_refuses_clients_without_the_right_password(stack):
    port = stack.ports["redis"]
    replies = _redis_exchange(port, b"PING", b"GET anything", b"CONFIG GET requirepass", b"KEYS *",
                              b"AUTH not-the-password", b"AUTH default not-the-password", b"PING")
    assert replies[0].startswith(b"-NOAUTH"), replies
    assert all(reply.startswith(b"-NOAUTH") for reply in replies[1:4]), replies
    assert replies[4].startswith(b"-WRONGPASS") and replies[5].startswith(b"-WRONGPASS"), replies
    assert replies[6].startswith(b"-NOAUTH"), replies
    # The password lets the same kind of client in.
    assert clients.redis_client(stack).ping() is True


def _langfuse_status(stack, path: str, authorization: str | None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{stack.ports['langfuse']}{path}")
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_langfuse_public_api_refuses_requests_without_valid_keys(stack):
    values = stack.env_file()
    public, secret = values["LANGFUSE_PUBLIC_KEY"], values["LANGFUSE_SECRET_KEY"]
    refused = {
        "no header": None,
        "empty basic": "Basic ",
        "not base64": "Basic %%%",
        "public key only": _basic(public, ""),
        "wrong secret": _basic(public, "sk-lf-00000000-0000-4000-8000-000000000000"),
        "swapped keys": _basic(secret, public),
        "secret key as bearer": f"Bearer {secret}",
        "unknown public key": _basic("pk-lf-00000000-0000-4000-8000-000000000000", secret),
    }
    for path in ("/api/public/projects", "/api/public/traces"):
        for what, header in refused.items():
            assert _langfuse_status(stack, path, header) == 401, f"{path} with {what}"
        assert _langfuse_status(stack, path, _basic(public, secret)) == 200


# --- Secrets ----------------------------------------------------------------------------------------


def test_env_file_is_private(stack, tmp_path):
    env_file = stack.root / ".env.infra"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    script_ok(stack, "init-env.sh")
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    target = tmp_path / "transbot.env"
    written = script_ok(stack, "app-env.sh", "--write", str(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert_no_secret(written.output, secrets_of(stack), "app-env.sh --write's output")
    env_file.chmod(0o644)
    checked = health_check(stack)
    assert checked.returncode == 0, str(checked)
    assert "changed it to 0600" in checked.stderr
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


# Every script, run as a person would on a healthy stack (app-env.sh without
# --write prints credentials on purpose: that is its job).
SCRIPT_RUNS = (
    ("health-check.sh",),
    ("health-check.sh", "--json"),
    ("health-check.sh", "--wait", "--timeout", "30"),
    ("logs.sh", "--tail", "300"),
    ("psql.sh", "-tAc", "SELECT count(*) FROM transbot.translations"),
    ("redis-cli.sh", "ping"),
    ("backup.sh",),
    ("apply-schema.sh",),
    ("init-env.sh",),
    ("restart.sh", "redis"),
    ("stop.sh", "langfuse"),
    ("start.sh", "langfuse"),
    ("start.sh",),
)


def test_no_secret_in_any_script_output(stack, figures):
    secrets = secrets_of(stack)
    outputs = []
    with ProcessListWatcher(secrets) as watcher:
        for args in SCRIPT_RUNS:
            result = script_ok(stack, *args)
            outputs.append((args, result.output))
        last_backup = sorted((stack.root / "backups").iterdir())[-1]
        restored = script_ok(stack, "restore.sh", str(last_backup), "redis", "--yes")
        outputs.append((("restore.sh",), restored.output))
    for name, lines in watcher.hits.items():
        Seen.start_hits.setdefault(name, set()).update(lines)
    Seen.start_scans += watcher.scans
    Seen.scripts_watched = 1 + len(SCRIPT_RUNS) + 1
    for args, output in outputs:
        assert_no_secret(output, secrets, f"the output of {' '.join(args)}")


def test_no_secret_in_the_host_process_list_while_scripts_run(stack, figures):
    """Checked while start.sh (in the fixture) and every script of the test
    above ran: each process's command line, as `ps -eo args` shows it."""
    assert Seen.scripts_watched > 1, "the scripts were not run under the watcher"
    figures.record("process_list", scans=Seen.start_scans, scripts_watched=Seen.scripts_watched,
                   secrets_seen=sorted(Seen.start_hits))
    assert Seen.start_scans > 100, "the watcher hardly looked"
    assert not Seen.start_hits, "secrets in the host's process list while scripts ran:\n" + "\n".join(
        f"  {name}: {line}" for name, lines in sorted(Seen.start_hits.items()) for line in sorted(lines))


def test_no_secret_in_dockers_container_list(stack):
    secrets = secrets_of(stack)
    listed = run(["docker", "ps", "-a", "--no-trunc", "--filter", f"label=com.docker.compose.project={stack.project}",
                  "--format", "{{.Names}} {{.Command}}"])
    assert listed.returncode == 0
    assert len(listed.stdout.splitlines()) == len(SERVICES)
    assert_no_secret(listed.stdout, secrets, "`docker ps --no-trunc` (every container's command line)")


def test_a_secret_a_service_logs_is_masked_in_the_logs_the_scripts_print(stack):
    secrets = secrets_of(stack)
    leaked = secrets["LANGFUSE_SALT"]
    # PostgreSQL logs the statement of a failed query, value included.
    with clients.postgres(stack) as conn:
        with pytest.raises(psycopg.Error):
            conn.execute("SELECT %s::integer", (leaked,))
    raw = run(["docker", "logs", "--tail", "50", stack.container("postgres")])
    assert leaked in raw.stdout + raw.stderr, "the service did not log the value; the test proves nothing"
    for args in (("logs.sh", "postgres", "--tail", "50"), ("logs.sh", "--tail", "200")):
        result = script_ok(stack, *args)
        assert_no_secret(result.output, secrets, " ".join(args))
        assert "****" in result.output
    # A stopped service, and health-check's report on it.
    stopped = script_ok(stack, "stop.sh", "redis")
    assert_no_secret(stopped.output, secrets, "stop.sh")
    checked = health_check(stack)
    assert checked.returncode == 1
    assert_no_secret(checked.output, secrets, "health-check.sh with redis stopped")
    script_ok(stack, "start.sh", "redis")


# --- What the containers may do -------------------------------------------------------------------


def test_containers_run_nothing_privileged_and_mount_nothing_outside_the_repository(stack):
    root = stack.root.resolve()
    ids = [stack.container(service) for service in SERVICES]
    inspected = json.loads(run(["docker", "inspect", *ids]).stdout)
    assert len(inspected) == len(SERVICES)
    for item in inspected:
        name, host = item["Name"], item["HostConfig"]
        assert host["Privileged"] is False, name
        assert not host.get("CapAdd"), f"{name} adds capabilities {host.get('CapAdd')}"
        assert not host.get("Devices"), name
        assert not host.get("DeviceCgroupRules"), name
        assert host["NetworkMode"] not in ("host",) and not host["NetworkMode"].startswith("container:"), name
        assert host.get("PidMode", "") in ("", "private"), name
        assert host.get("IpcMode", "") in ("", "private", "shareable"), name
        assert host.get("UsernsMode", "") == "", name
        assert not any("unconfined" in option or "privileged" in option
                       for option in host.get("SecurityOpt") or []), name
        for mount in item["Mounts"]:
            assert mount["Type"] == "bind", f"{name} mounts a {mount['Type']} ({mount})"
            source = Path(mount["Source"]).resolve()
            assert source == root or root in source.parents, f"{name} mounts {source}, outside {root}"
            assert "docker.sock" not in str(source), name
        for binding in (host.get("PortBindings") or {}).values():
            for entry in binding:
                assert entry["HostIp"] == "127.0.0.1", f"{name} publishes on {entry}"

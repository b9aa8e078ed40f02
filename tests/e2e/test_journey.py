"""A developer's day with the stack, through the real scripts on the real
engine, once with Compose v2 and once with Compose v1.

Each test is one step of the journey and relies on the steps before it:
clone → start → health-check → logs → stop one service → start it again →
restart → data survives → reset postgres → a fresh start re-initialises it.
"""

from __future__ import annotations

import base64
import json
import os
import select
import signal
import stat
import subprocess
import urllib.request

import psycopg
import pytest
import redis

from support import clients
from support.engine import as_from_a_prompt, folder_names, run

from .common import containers


def test_first_start_creates_secrets_and_brings_the_stack_up_healthy(journey):
    result = journey.script("start.sh")
    assert result.returncode == 0, result
    env_file = journey.root / ".env.infra"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "Created .env.infra" in result.stdout
    for service in ("postgres", "langfuse", "redis"):
        assert f"{service} is healthy" in result.stdout
    assert f"127.0.0.1:{journey.ports['postgres']}" in result.stdout
    assert f"http://localhost:{journey.ports['langfuse']}" in result.stdout
    assert f"{expected_path(journey)} healthchecks" in result.stdout
    _assert_no_secret_in(journey, result.output)


def test_start_leaves_no_process_of_its_own_behind(journey):
    # The wait follows the engine's events (docker events, filtered by this
    # project's label): that stream must end with start.sh.
    result = journey.script("start.sh")
    assert result.returncode == 0, result
    left = subprocess.run(["pgrep", "-af", f"com.docker.compose.project={journey.project}"],
                          capture_output=True, text=True)
    assert left.stdout == "", left.stdout


def expected_path(stack) -> str:
    """What the scripts must pick here: fast on Engine 25+ with Compose v2
    2.24+ unless switched off, portable everywhere else."""
    api = run(["docker", "version", "--format", "{{.Server.APIVersion}}"]).stdout.strip()
    modern_engine = tuple(int(part) for part in api.split(".")[:2]) >= (1, 44)
    modern_compose = stack.compose.name == "v2" and tuple(
        int(part) for part in stack.compose.version.split("-")[0].split(".")[:2]) >= (2, 24)
    switched_off = stack.extra_env.get("TRANSBOT_FAST_PATH") == "off"
    return "fast" if modern_engine and modern_compose and not switched_off else "portable"


def test_containers_carry_the_healthchecks_of_their_path(journey):
    for service in ("postgres", "langfuse", "redis"):
        check = json.loads(run(["docker", "inspect", "--format", "{{json .Config.Healthcheck}}",
                                journey.container(service)]).stdout)
        if expected_path(journey) == "fast":
            assert check.get("StartInterval") == 250_000_000, (service, check)
            assert check["Interval"] == 60_000_000_000, (service, check)
        else:
            assert not check.get("StartInterval"), (service, check)
            assert check["Interval"] <= 5_000_000_000, (service, check)


def test_health_check_passes_on_the_running_stack(journey):
    result = journey.script("health-check.sh")
    assert result.returncode == 0, result
    for service in ("postgres", "langfuse", "redis"):
        assert service in result.stdout
    json_result = journey.script("health-check.sh", "--json")
    report = json.loads(json_result.stdout)
    assert report["healthy"] is True
    assert {s["service"]: s["probe"] for s in report["services"]} == {
        "postgres": "ok", "langfuse": "ok", "redis": "ok"}


def test_transbot_tables_exist_in_the_transbot_schema(journey):
    with clients.postgres(journey) as conn:
        tables = {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'transbot'")}
    assert {"users", "translations"} <= tables


def test_langfuse_has_its_own_database_and_its_keys_work(journey):
    env = journey.env_file()
    with clients.postgres(journey, dbname="langfuse", user="langfuse",
                          password=env["LANGFUSE_DB_PASSWORD"]) as conn:
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'langfuse'").fetchone()
        langfuse_tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
    assert owner == ("langfuse",)
    assert langfuse_tables[0] > 0, "Langfuse's migrations created no tables in its database"
    base = f"http://127.0.0.1:{journey.ports['langfuse']}"
    request = urllib.request.Request(f"{base}/api/public/projects", headers={
        "Authorization": _basic(env["LANGFUSE_PUBLIC_KEY"], env["LANGFUSE_SECRET_KEY"])})
    with urllib.request.urlopen(request, timeout=10) as response:
        projects = json.load(response)
    assert [p["name"] for p in projects["data"]] == ["transbot"]


def test_redis_refuses_clients_without_the_password(journey):
    with pytest.raises(redis.AuthenticationError):
        clients.redis_client(journey, password=None).set("k", "v")
    with pytest.raises(redis.AuthenticationError):
        clients.redis_client(journey, password="wrong").ping()
    assert clients.redis_client(journey).ping() is True


def test_logs_prints_each_service(journey):
    result = journey.script("logs.sh", "--tail", "50")
    assert result.returncode == 0, result
    # Compose prefixes each line with the service (v2) or container (v1) name.
    prefixes = [line.split("|")[0] for line in result.stdout.splitlines() if "|" in line]
    for service in ("postgres", "langfuse", "redis"):
        assert any(service in prefix for prefix in prefixes), service
    _assert_no_secret_in(journey, result.output)
    only_redis = journey.script("logs.sh", "redis", "--tail", "5")
    assert only_redis.returncode == 0, only_redis
    lines = [line for line in only_redis.stdout.splitlines() if "|" in line]
    assert lines and all("redis" in line.split("|")[0] for line in lines)


def test_logs_follow_ends_cleanly_on_ctrl_c(journey):
    # Ctrl-C reaches the whole foreground process group, as in a terminal.
    process = subprocess.Popen([str(journey.root / "scripts" / "logs.sh"), "-f", "redis"], env=journey.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               text=True, start_new_session=True, preexec_fn=as_from_a_prompt)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready and process.stdout.readline(), "logs.sh -f printed nothing within 30 s"
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    os.killpg(process.pid, signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, stderr
    assert "internal error" not in stderr


def test_health_check_wait_polls_until_the_stack_is_healthy(journey):
    assert journey.script("stop.sh").returncode == 0
    started = journey.script("start.sh", "--no-wait")
    assert started.returncode == 0, started
    result = journey.script("health-check.sh", "--wait", "--timeout", "180")
    assert result.returncode == 0, result


def test_health_check_names_a_stopped_service_and_fails(journey):
    stopped = journey.script("stop.sh", "redis")
    assert stopped.returncode == 0, stopped
    result = journey.script("health-check.sh")
    assert result.returncode == 1, result
    redis_line = next(line for line in result.stdout.splitlines() if line.startswith("redis"))
    assert "fail" in redis_line
    postgres_line = next(line for line in result.stdout.splitlines() if line.startswith("postgres"))
    assert "ok" in postgres_line


def test_starting_one_service_brings_it_back(journey):
    result = journey.script("start.sh", "redis")
    assert result.returncode == 0, result
    assert "redis is healthy" in result.stdout
    assert journey.script("health-check.sh").returncode == 0


def test_start_on_a_healthy_stack_keeps_its_running_containers(journey):
    before = containers(journey)
    env_before = (journey.root / ".env.infra").read_bytes()
    result = journey.script("start.sh")
    assert result.returncode == 0, result
    assert "Created .env.infra" not in result.stdout
    assert containers(journey) == before, "start.sh recreated or restarted a container of a healthy stack"
    assert (journey.root / ".env.infra").read_bytes() == env_before


def test_restart_waits_for_health(journey):
    result = journey.script("restart.sh")
    assert result.returncode == 0, result
    for service in ("postgres", "langfuse", "redis"):
        assert f"{service} is healthy" in result.stdout
    assert journey.script("health-check.sh").returncode == 0


def test_rows_and_keys_survive_stop_and_start(journey):
    with clients.postgres(journey) as conn:
        clients.add_translation(conn, "alice@example.com", "good morning")
    cache = clients.redis_client(journey)
    cache.set("session:alice", "de")
    cache.close()
    assert journey.script("stop.sh").returncode == 0
    assert not journey.container("postgres"), "stop.sh without services should remove the containers"
    started = journey.script("start.sh")
    assert started.returncode == 0, started
    with clients.postgres(journey) as conn:
        assert "good morning" in clients.translation_texts(conn)
    assert clients.redis_client(journey).get("session:alice") == "de"


def test_reset_postgres_deletes_only_postgres_data(journey):
    redis_files_before = sorted(p.name for p in (journey.root / "volumes" / "redis").iterdir())
    env_before = (journey.root / ".env.infra").read_bytes()
    result = journey.script("reset.sh", "postgres", "--yes")
    assert result.returncode == 0, result
    assert "volumes/postgres" in result.stdout
    assert "volumes/redis" not in result.stdout
    assert folder_names(journey.root / "volumes" / "postgres", journey.images["postgres"]) == []
    assert sorted(p.name for p in (journey.root / "volumes" / "redis").iterdir()) == redis_files_before
    assert (journey.root / ".env.infra").read_bytes() == env_before


def test_start_after_reset_initialises_a_fresh_database(journey):
    result = journey.script("start.sh")
    assert result.returncode == 0, result
    with clients.postgres(journey) as conn:
        assert clients.translation_texts(conn) == []
        tables = {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'transbot'")}
    assert {"users", "translations"} <= tables
    assert clients.redis_client(journey).get("session:alice") == "de", "redis data must survive a postgres reset"


def test_stop_keeps_data_and_removes_containers(journey):
    result = journey.script("stop.sh")
    assert result.returncode == 0, result
    assert journey.container("postgres") == "" and journey.container("redis") == ""
    assert folder_names(journey.root / "volumes" / "postgres", journey.images["postgres"])
    with pytest.raises(psycopg.OperationalError):
        clients.postgres(journey)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _assert_no_secret_in(stack, text: str) -> None:
    env = stack.env_file()
    example = (stack.root / ".env.infra.example").read_text()
    for line in example.splitlines():
        if line.endswith("=change-me"):
            name = line.split("=", 1)[0]
            assert env[name] not in text, f"{name} was printed"

"""A developer adds services of their own, keeps two clones, and runs
commands at once, on the real engine.

Journey: TransBot's developer puts a mail catcher (with a healthcheck) and
an idle helper (without one) into docker-compose.override.yml. start.sh
waits for them too and says where they listen; health-check.sh reports them
(also in JSON); stop, start, restart and logs take their names; reset and
backup refuse them. A second clone with the same project name is refused
instead of taking over the first one's stack, and runs beside it with its
own project name and ports. Two start.sh at once both succeed on one
network. A stopped stack stays without a network after reset.sh.
"""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from support import clients
from support.engine import free_port, run
from support.stack import Stack


def add_own_services(stack: Stack) -> int:
    port = free_port()
    override = stack.root / "docker-compose.override.yml"
    override.write_text(override.read_text() + f"""\
  mailcatcher:
    image: {stack.images['redis']}
    command: ["redis-server", "--port", "1025", "--save", "", "--appendonly", "no"]
    depends_on: [redis]
    ports:
      - "127.0.0.1:{port}:1025"
    healthcheck:
      test: ["CMD", "redis-cli", "-p", "1025", "ping"]
      interval: 1s
      retries: 30
  idle:
    image: {stack.images['postgres']}
    entrypoint: ["sleep", "infinity"]
""")
    return port


@pytest.fixture(scope="module")
def own(engine, images, compose_v2):
    stack = Stack.create(compose_v2, images)
    stack.mail_port = add_own_services(stack)
    yield stack
    stack.destroy()


def network_count(stack: Stack) -> int:
    return len(run(["docker", "network", "ls", "-q", "--filter",
                    f"label=com.docker.compose.project={stack.project}"]).stdout.split())


def test_start_waits_for_the_services_of_the_override_file_too(own):
    result = own.script("start.sh")
    assert result.returncode == 0, result
    assert "mailcatcher is healthy" in result.stdout and "idle is healthy" in result.stdout
    assert f"mailcatcher running on 127.0.0.1:{own.mail_port}" in result.stdout


def test_health_check_reports_own_services_by_their_docker_health(own):
    table = own.script("health-check.sh")
    assert table.returncode == 0, table
    assert "Docker healthcheck passes" in table.stdout
    assert "running (it has no healthcheck)" in table.stdout
    report = json.loads(own.script("health-check.sh", "--json").stdout)
    probes = {entry["service"]: (entry["health"], entry["probe"]) for entry in report["services"]}
    assert probes["mailcatcher"] == ("healthy", "ok") and probes["idle"] == ("none", "ok"), probes
    assert report["healthy"] is True


def test_stop_start_restart_and_logs_take_an_own_service(own):
    assert own.script("stop.sh", "mailcatcher").returncode == 0
    assert not own.script("health-check.sh", "mailcatcher").returncode == 0
    started = own.script("start.sh", "mailcatcher")
    assert started.returncode == 0, started
    assert "mailcatcher is healthy" in started.stdout and "redis is healthy" in started.stdout
    assert own.script("restart.sh", "mailcatcher").returncode == 0
    logs = own.script("logs.sh", "mailcatcher", "--tail=20")
    assert logs.returncode == 0, logs
    assert "Ready to accept connections" in logs.stdout


@pytest.mark.parametrize("script", ["reset.sh", "backup.sh"])
def test_data_scripts_refuse_an_own_service_and_touch_nothing(own, script):
    before = clients.redis_client(own).dbsize()
    result = own.script(script, "mailcatcher", *(["--yes"] if script == "reset.sh" else []))
    assert result.returncode == 2, result
    assert "manages only the built-in data" in result.stderr
    assert own.script("health-check.sh").returncode == 0
    assert clients.redis_client(own).dbsize() == before


def test_two_backups_in_one_second_get_two_folders_and_the_hint_works_from_elsewhere(own, tmp_path):
    clients.redis_client(own).set("backup-key", "kept")
    first = own.script("backup.sh", "redis", cwd=tmp_path)
    second = own.script("backup.sh", "redis", cwd=tmp_path)
    assert first.returncode == 0 and second.returncode == 0, (first, second)
    folders = sorted(path.name for path in (own.root / "backups").iterdir())
    assert len(folders) == 2, folders
    redis_config = own.docker_exec("redis", "redis-cli", "config", "get", "repl-diskless-sync-delay",
                                   env={"REDISCLI_AUTH": own.env_file()["REDIS_PASSWORD"]})
    assert redis_config.stdout.split() == ["repl-diskless-sync-delay", "0"], redis_config
    hint = second.stdout.split("Restore it with: ", 1)[1].strip()
    clients.redis_client(own).delete("backup-key")
    restored = subprocess.run([*shlex.split(hint), "--yes"], capture_output=True, text=True, timeout=300,
                              env=own.env(), cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert restored.returncode == 0, restored.stderr
    assert clients.redis_client(own).get("backup-key") == "kept"


def test_reset_on_a_stopped_stack_leaves_no_network_behind(own):
    assert own.script("stop.sh").returncode == 0
    assert network_count(own) == 0
    result = own.script("reset.sh", "redis", "--yes")
    assert result.returncode == 0, result
    assert "deleted volumes/redis" in result.stdout
    assert network_count(own) == 0


def test_two_starts_at_once_both_succeed_on_one_network(own):
    commands = [subprocess.Popen([str(own.root / "scripts" / "start.sh")], env=own.env(), cwd=own.root.parent,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]
    outputs = [command.communicate(timeout=600) for command in commands]
    assert [command.returncode for command in commands] == [0, 0], outputs
    assert any("waiting for start.sh" in err for _, err in outputs), outputs
    assert network_count(own) == 1


def test_a_second_clone_with_the_same_project_is_refused_and_the_first_keeps_its_data(make_stack, compose_v2):
    first = make_stack(compose_v2)
    assert first.script("start.sh").returncode == 0
    clients.redis_client(first).set("mine", "first clone")
    second = make_stack(compose_v2)
    second.project, second.ports = first.project, dict(first.ports)
    refused = second.script("start.sh")
    assert refused.returncode == 1, refused
    assert f"running from another clone, {first.root}" in refused.stderr
    assert second.script("health-check.sh").returncode == 1
    assert first.script("health-check.sh").returncode == 0
    assert clients.redis_client(first).get("mine") == "first clone"


def test_a_second_clone_with_its_own_project_runs_beside_the_first(make_stack, compose_v2):
    first = make_stack(compose_v2)
    second = make_stack(compose_v2)
    assert first.script("start.sh").returncode == 0
    assert second.script("start.sh").returncode == 0
    clients.redis_client(first).set("who", "first")
    clients.redis_client(second).set("who", "second")
    assert first.script("health-check.sh").returncode == 0
    assert second.script("health-check.sh").returncode == 0
    assert clients.redis_client(first).get("who") == "first"

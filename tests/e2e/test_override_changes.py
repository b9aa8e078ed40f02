"""A developer changes docker-compose.override.yml, on the real engine, once
with Compose v2 and once with Compose v1.

Each test is one step and relies on the ones before it. The override moves
Langfuse's and Redis' published ports (Compose v2: `ports: !override`;
Compose v1 knows no such tag and appends an override's ports to the file's,
so there both stay published) and adds services of the developer's own →
start.sh is healthy and prints the ports in use → health-check.sh passes →
app-env.sh prints them and they work, also from a shell without the port
variables the stack was started with → a service whose healthcheck fails:
the diagnostics show what its probe said → the services are removed from
the override: start.sh names their containers, health-check.sh leaves them
out in one line, stop.sh removes them and nothing of the stack is left → a
container of no project on the stack's network: stop.sh says so instead of
"ok stopped". The fake engine runs the same journey in
tests/unit/test_override_changes.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import urllib.request

import psycopg
import redis

from support.engine import free_port, run
from support.fake_docker import DockerSandbox
from support.stack import PORT_VARIABLES, SERVICES, Stack

PROBE_MESSAGE = "flaky-probe: upstream 10.0.0.9 unreachable"
HEALTH_TEMPLATE = ('{{if .State.Health}}{{range .State.Health.Log}}{{printf "%q" .Output}}{{"\\n"}}'
                   '{{end}}{{end}}')


def moved(stack: Stack) -> dict[str, int]:
    """The ports the override publishes Langfuse and Redis on, chosen once."""
    if not hasattr(stack, "moved_ports"):
        stack.moved_ports = {"langfuse": free_port(), "redis": free_port()}
    return stack.moved_ports


def in_use(stack: Stack, service: str) -> int:
    """Where SERVICE is to be reached: the moved port with Compose v2; with
    v1 the override only adds a port, and the one .env.infra's variable
    sets (the stack's) is still published."""
    if service in moved(stack) and stack.compose.name == "v2":
        return moved(stack)[service]
    return stack.ports[service]


def write_override(stack: Stack, *own_services: str) -> None:
    tag = " !override" if stack.compose.name == "v2" else ""
    target = {"langfuse": 3000, "redis": 6379}
    text = "services:\n"
    for service in SERVICES:
        text += f"  {service}:\n    image: {stack.images[service]}\n"
        if service in target:
            text += f'    ports:{tag}\n      - "127.0.0.1:{moved(stack)[service]}:{target[service]}"\n'
    own = {
        "mailcatcher": f"""\
  mailcatcher:
    image: {stack.images['redis']}
    command: ["redis-server", "--port", "1025", "--save", "", "--appendonly", "no"]
    healthcheck:
      test: ["CMD", "redis-cli", "-p", "1025", "ping"]
      interval: 1s
      retries: 30
""",
        "idle": f"""\
  idle:
    image: {stack.images['postgres']}
    entrypoint: ["sleep", "infinity"]
""",
        "flaky": f"""\
  flaky:
    image: {stack.images['redis']}
    command: ["redis-server", "--save", "", "--appendonly", "no"]
    healthcheck:
      test: ["CMD-SHELL", "echo '{PROBE_MESSAGE}'; exit 1"]
      interval: 1s
      retries: 1
""",
    }
    text += "".join(own[name] for name in own_services)
    (stack.root / "docker-compose.override.yml").write_text(text)


def app_settings(stack: Stack, env: dict[str, str] | None = None) -> dict[str, str]:
    result = stack.script("app-env.sh", env=env)
    assert result.returncode == 0, result
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line and not line.startswith("#"))


def project_containers_by_name(stack: Stack) -> dict[str, str]:
    """Service -> container name, for the stack's containers."""
    listed = run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={stack.project}",
                  "--format", '{{.Label "com.docker.compose.service"}} {{.Names}}'])
    return dict(line.split() for line in listed.stdout.splitlines())


def project_networks(stack: Stack) -> list[str]:
    return run(["docker", "network", "ls", "-q", "--filter",
                f"label=com.docker.compose.project={stack.project}"]).stdout.split()


# --- Ports moved by the override -----------------------------------------------------


def test_start_is_healthy_and_prints_the_ports_in_use(journey):
    write_override(journey, "mailcatcher", "idle")
    result = journey.script("start.sh")
    assert result.returncode == 0, result
    assert f"http://localhost:{in_use(journey, 'langfuse')}" in result.stdout
    assert f"redis://127.0.0.1:{in_use(journey, 'redis')}" in result.stdout
    assert "mailcatcher is healthy" in result.stdout and "idle is healthy" in result.stdout


def test_health_check_passes_on_the_ports_in_use(journey):
    result = journey.script("health-check.sh")
    assert result.returncode == 0, result
    assert f"GET /api/public/health on port {in_use(journey, 'langfuse')} answered 200" in result.stdout


def test_app_env_prints_the_ports_in_use_and_they_work(journey):
    settings = app_settings(journey)
    assert settings["LANGFUSE_HOST"] == f"http://localhost:{in_use(journey, 'langfuse')}"
    assert urllib.parse.urlsplit(settings["REDIS_URL"]).port == in_use(journey, "redis")
    cache = redis.Redis.from_url(settings["REDIS_URL"], socket_timeout=5)
    try:
        assert cache.ping() is True
    finally:
        cache.close()
    with psycopg.connect(settings["DATABASE_URL"], connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with urllib.request.urlopen(settings["LANGFUSE_HOST"] + "/api/public/health", timeout=10) as response:
        assert response.status == 200


def test_app_env_prints_the_running_stacks_ports_in_a_shell_without_its_port_variables(journey):
    # The stack was started with ports exported in the shell (Stack.env);
    # .env.infra still says 5432, 3000 and 6379.
    shell = {key: value for key, value in journey.env().items() if key not in PORT_VARIABLES.values()}
    settings = app_settings(journey, env=shell)
    assert urllib.parse.urlsplit(settings["DATABASE_URL"]).port == journey.ports["postgres"]
    # With Compose v1 both ports are published, and neither is the one
    # .env.infra names: the lower one is printed.
    expected = {service: in_use(journey, service) if journey.compose.name == "v2"
                else min(journey.ports[service], moved(journey)[service]) for service in ("langfuse", "redis")}
    assert urllib.parse.urlsplit(settings["REDIS_URL"]).port == expected["redis"]
    assert settings["LANGFUSE_HOST"] == f"http://localhost:{expected['langfuse']}"


# --- A healthcheck of the developer's own that fails ---------------------------------


def test_diagnostics_show_what_the_failing_probe_said(journey):
    write_override(journey, "mailcatcher", "idle", "flaky")
    started = journey.script("start.sh", "flaky", "--timeout", "10")
    assert started.returncode == 1, started
    assert f"last probe:   {PROBE_MESSAGE}" in started.stderr
    checked = journey.script("health-check.sh", "flaky")
    assert checked.returncode == 1, checked
    assert f"Docker healthcheck fails: {PROBE_MESSAGE}" in checked.stdout


def test_the_fake_engine_prints_a_health_log_as_the_real_one_does(journey, tmp_path):
    """The fake docker of the unit tests renders the scripts' health-log
    template as the real CLI does, down to the empty last line."""
    container = journey.container("flaky")
    # The log and its rendering from one look: a new probe may come any second.
    looked = run(["docker", "inspect", "--format", "{{json .State.Health.Log}}\n" + HEALTH_TEMPLATE, container])
    assert looked.returncode == 0, looked.stderr
    log, real = looked.stdout.split("\n", 1)
    assert real.endswith("\n\n") and PROBE_MESSAGE in real, real
    state = tmp_path / "engine.json"
    state.write_text(json.dumps({"containers": [{"service": "flaky", "id": container, "health": "unhealthy",
                                                 "health_log": [entry["Output"] for entry in json.loads(log)]}]}))
    sandbox = DockerSandbox.build(tmp_path / "sandbox")
    fake = subprocess.run([str(sandbox.docker_bin / "docker"), "inspect", "--format", HEALTH_TEMPLATE, container],
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, "FAKE_DOCKER_CONTAINERS": str(state)})
    assert fake.returncode == 0 and fake.stdout == real, (fake, real)


# --- Services removed from the override ----------------------------------------------


def test_start_names_the_containers_of_services_removed_from_the_override(journey):
    write_override(journey)
    result = journey.script("start.sh")
    assert result.returncode == 0, result
    names = project_containers_by_name(journey)
    [warning] = [line for line in result.stderr.splitlines() if "no longer in the configuration" in line]
    for service in ("mailcatcher", "idle", "flaky"):
        assert f"{service} ({names[service]})" in warning, warning
    assert "./scripts/stop.sh" in warning and "docker rm -f " in warning
    assert {"mailcatcher", "idle", "flaky"} <= set(names), "start.sh removed a container nobody asked it to"


def test_health_check_leaves_them_out_naming_them_in_one_line(journey):
    # flaky still fails its healthcheck: judged, it would turn the check red.
    result = journey.script("health-check.sh", "--json")
    assert result.returncode == 0, result
    report = json.loads(result.stdout)
    assert [entry["service"] for entry in report["services"]] == list(SERVICES), report
    [note] = result.stderr.splitlines()
    assert note.startswith("warning: not checked, no longer in the configuration:"), note
    assert all(service in note for service in ("mailcatcher", "idle", "flaky")), note


def test_stop_removes_their_containers_and_leaves_nothing_of_the_stack(journey):
    orphans = {name: container for name, container in project_containers_by_name(journey).items()
               if name in ("mailcatcher", "idle", "flaky")}
    volumes = run(["docker", "inspect", "--format",
                   '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}', *orphans.values()]).stdout.split()
    try:
        result = journey.script("stop.sh")
        assert result.returncode == 0, result
        [removed] = [line for line in result.stdout.splitlines() if line.startswith("removed the containers of")]
        assert all(service in removed for service in orphans), removed
        assert project_containers_by_name(journey) == {}
        assert project_networks(journey) == []
        kept = [volume for volume in volumes if run(["docker", "volume", "inspect", volume]).returncode == 0]
        assert kept == volumes, "an orphan's volume was deleted"
    finally:
        # Nothing else removes them: they belong to no container any more.
        for volume in volumes:
            run(["docker", "volume", "rm", volume])


def test_stop_says_so_when_a_container_of_no_project_holds_the_network(journey):
    assert journey.script("start.sh").returncode == 0
    [network] = project_networks(journey)
    network_name = run(["docker", "network", "inspect", "--format", "{{.Name}}", network]).stdout.strip()
    intruder = f"{journey.project}-debug-shell"
    started = run(["docker", "run", "-d", "--name", intruder, "--network", network_name, "--entrypoint", "sleep",
                   journey.images["redis"], "infinity"])
    assert started.returncode == 0, started.stderr
    try:
        result = journey.script("stop.sh")
        assert result.returncode == 1, result
        assert "ok stopped" not in result.stdout
        assert f"network {network_name} is still in use by {intruder}" in result.stderr
        assert f"docker network disconnect {network_name} {intruder}" in result.stderr
    finally:
        run(["docker", "rm", "-f", "-v", intruder])
    again = journey.script("stop.sh")
    assert again.returncode == 0, again
    assert project_networks(journey) == []

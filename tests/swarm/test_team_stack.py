"""A team's stack on a real three-node swarm: deploy/swarm/stack.yml, deployed
with raw `docker stack deploy`, serves Langfuse from two nodes, keeps every
password out of sight, and survives a node going down, a killed database
and a removal.

One journey on one swarm (module-scoped fixtures), in order.
"""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.parse

import pytest

from .conftest import STACK

pytestmark = pytest.mark.needs_root("creates network namespaces and runs dockerd processes of its own")


def placement(team_stack) -> dict[str, list[str]]:
    """Each service's running containers, by the node they run on."""
    found: dict[str, list[str]] = {}
    for node, container in team_stack.swarm.containers(STACK):
        service = container["Config"]["Labels"]["com.docker.swarm.service.name"].removeprefix(f"{STACK}_")
        found.setdefault(service, []).append(node.name)
    return {service: sorted(nodes) for service, nodes in found.items()}


def test_the_stack_converges_with_each_service_on_its_labelled_nodes(team_stack):
    assert placement(team_stack) == {
        "postgres": ["node1"],
        "redis": ["node1"],
        "langfuse": ["node2", "node3"],
    }


def test_the_sdk_auth_check_passes_on_each_langfuse_node(team_stack):
    for node in ("node2", "node3"):
        result = team_stack.langfuse(node, "auth-check")
        assert result.returncode == 0, f"{node}: {result.stdout}{result.stderr}"


def test_a_trace_sent_through_one_node_is_read_through_the_other(team_stack):
    sent = team_stack.langfuse("node2", "send-trace", "swarm-journey")
    assert sent.returncode == 0, sent.stderr
    trace_id = sent.stdout.strip()
    read = team_stack.langfuse("node3", "read-trace", trace_id)
    assert (read.returncode, read.stdout.strip()) == (0, "swarm-journey"), read.stderr
    team_stack.trace_id = trace_id


def _forms(value: str) -> set[str]:
    """A password as it could show up: as is, percent-encoded (in a URL) and
    in JSON (escaped quotes)."""
    return {value, urllib.parse.quote(value, safe=""), json.dumps(value)[1:-1],
            "".join(f"%{byte:02x}" for byte in value.encode()),
            "".join(f"%{byte:02X}" for byte in value.encode())}


def test_no_password_shows_in_inspect_or_the_process_list(team_stack):
    swarm = team_stack.swarm
    seen = {"docker service inspect": json.dumps(swarm.services(STACK))}
    for node, container in swarm.containers(STACK):
        seen[f"docker inspect {container['Name']} on {node.name}"] = json.dumps(container)
    configs = swarm.manager.docker("config", "ls", "-q").stdout.split()
    for config in json.loads(swarm.manager.docker("config", "inspect", *configs, check=True).stdout):
        seen[f"config {config['Spec']['Name']}"] = base64.b64decode(config["Spec"]["Data"]).decode(errors="replace")
    # Every process of the machine: the nodes' dockerd, their containers'
    # processes (PID namespaces nest in the machine's), the healthchecks.
    seen["ps"] = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True).stdout
    for node, container in swarm.containers(STACK):
        listed = node.docker("top", container["Id"], "-eww", "-o", "args")
        seen[f"ps in {container['Name']}"] = listed.stdout
    leaks = [(variable, where) for variable, value in team_stack.passwords.items()
             for where, text in seen.items() if any(form in text for form in _forms(value))]
    assert not leaks, f"passwords found: {leaks}"
    # The check can see: the names of the secrets are there.
    assert team_stack.variables["REDIS_PASSWORD_SECRET"] in seen["docker service inspect"]


def test_a_killed_postgres_task_comes_back_on_its_node_with_every_acknowledged_row(team_stack):
    rows = [f"swarm-user-{number}" for number in range(50)]
    for row in rows:
        done = team_stack.psql(f"INSERT INTO transbot.users (external_id) VALUES ('{row}');")
        assert done.returncode == 0, done.stderr  # acknowledged
    node, killed = team_stack.container("postgres")
    node.docker("kill", killed["Id"], check=True)
    team_stack.swarm.wait_converged(STACK)
    node, container = team_stack.container("postgres")
    assert (node.name, container["Id"] != killed["Id"]) == ("node1", True)
    stored = team_stack.psql("SELECT external_id FROM transbot.users WHERE external_id LIKE 'swarm-user-%';")
    assert sorted(stored.stdout.split()) == sorted(rows)
    # Langfuse reconnects to the new task.
    assert team_stack.langfuse("node2", "auth-check").returncode == 0


def test_a_langfuse_node_going_down_leaves_langfuse_served_by_the_other(team_stack):
    node3 = team_stack.swarm.node("node3")
    node3.stop()
    try:
        checked = team_stack.langfuse("node2", "auth-check")
        assert checked.returncode == 0, checked.stderr
        read = team_stack.langfuse("node2", "read-trace", team_stack.trace_id)
        assert read.stdout.strip() == "swarm-journey", read.stderr
    finally:
        node3.start()
    team_stack.swarm.wait_converged(STACK)
    assert placement(team_stack)["langfuse"] == ["node2", "node3"]


def test_removing_the_stack_keeps_the_data_and_a_new_deploy_finds_it(team_stack):
    swarm = team_stack.swarm
    swarm.remove_stack(STACK)
    volumes = swarm.manager.docker("volume", "ls", "-q").stdout.split()
    assert {f"{STACK}_postgres_data", f"{STACK}_redis_data"} <= set(volumes)
    team_stack.deploy()
    stored = team_stack.psql("SELECT count(*) FROM transbot.users WHERE external_id LIKE 'swarm-user-%';")
    assert stored.stdout.strip() == "50"
    read = team_stack.langfuse("node3", "read-trace", team_stack.trace_id)
    assert read.stdout.strip() == "swarm-journey", read.stderr

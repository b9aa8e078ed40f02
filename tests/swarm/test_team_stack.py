"""A team's stack on a real three-node swarm: ./scripts/swarm-deploy.sh
refuses what it cannot deploy, changing nothing; deploys deploy/swarm/stack.yml
from a clone's .env.infra; the stack serves Langfuse from two nodes, keeps
every password out of sight, survives a node going down, a killed database
and a bad update, and swarm-remove.sh keeps its data.

One journey on one swarm (module-scoped fixtures), in order.
"""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.parse

import pytest

from .conftest import STACK, SECRETS

pytestmark = pytest.mark.needs_root("creates network namespaces and runs dockerd processes of its own")


def placement(team_stack) -> dict[str, list[str]]:
    """Each service's running containers, by the node they run on."""
    found: dict[str, list[str]] = {}
    for node, container in team_stack.swarm.containers(STACK):
        service = container["Config"]["Labels"]["com.docker.swarm.service.name"].removeprefix(f"{STACK}_")
        found.setdefault(service, []).append(node.name)
    return {service: sorted(nodes) for service, nodes in found.items()}


def nothing_deployed(swarm) -> list[str]:
    """What a refused deploy must not have left: services, secrets, configs."""
    manager = swarm.manager
    return (manager.docker("service", "ls", "-q").stdout.split() + manager.docker("secret", "ls", "-q").stdout.split()
            + manager.docker("config", "ls", "-q").stdout.split())


def test_deploy_refuses_a_worker_node_changing_nothing(clone):
    refused = clone.script("swarm-deploy.sh", node="node2")
    assert refused.returncode == 1, refused
    assert refused.stderr.count("error:") == 1 and "swarm worker, not a manager" in refused.stderr, refused.stderr
    assert nothing_deployed(clone.swarm) == []


def test_deploy_refuses_when_no_node_carries_a_label_changing_nothing(clone):
    manager = clone.swarm.manager
    node1 = manager.node_id()
    manager.docker("node", "update", "--label-rm", "transbot.redis", node1, check=True)
    try:
        refused = clone.script("swarm-deploy.sh")
    finally:
        manager.docker("node", "update", "--label-add", "transbot.redis=true", node1, check=True)
    assert refused.returncode == 1, refused
    assert "no node carries the label transbot.redis=true" in refused.stderr, refused.stderr
    assert nothing_deployed(clone.swarm) == []


def test_deploy_refuses_an_incomplete_env_file_changing_nothing(clone):
    env_file = clone.root / ".env.infra"
    complete = env_file.read_text()
    env_file.write_text("".join(line for line in complete.splitlines(keepends=True)
                                if not line.startswith("REDIS_PASSWORD=")))
    try:
        refused = clone.script("swarm-deploy.sh")
    finally:
        env_file.write_text(complete)
    assert refused.returncode == 1, refused
    assert "REDIS_PASSWORD is missing from .env.infra" in refused.stderr, refused.stderr
    assert nothing_deployed(clone.swarm) == []


def test_status_says_when_the_stack_is_not_deployed(clone):
    status = clone.script("swarm-status.sh")
    assert status.returncode == 1, status
    assert "is not deployed" in status.stderr


def test_the_stack_converges_with_each_service_on_its_labelled_nodes(team_stack):
    secrets = team_stack.swarm.manager.docker("secret", "ls", "--format", "{{.Name}}").stdout.split()
    assert len(secrets) == len(SECRETS) and all(name.startswith(f"{STACK}_") for name in secrets), secrets
    assert placement(team_stack) == {
        "postgres": ["node1"],
        "redis": ["node1"],
        "langfuse": ["node2", "node3"],
    }


def test_the_sdk_auth_check_passes_on_each_langfuse_node(team_stack):
    for node, result in team_stack.langfuse_on_each(("node2", "node3"), "auth-check").items():
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


def test_status_shows_each_service_and_task_with_its_node_and_health(team_stack):
    status = team_stack.script("swarm-status.sh")
    assert status.returncode == 0, status
    lines = status.stdout.splitlines()
    assert {line.split()[0]: line.split()[1] for line in lines[1:4]} == {"langfuse": "2/2", "postgres": "1/1",
                                                                        "redis": "1/1"}, status.stdout
    tasks = sorted((line.split()[0].split(".")[0], line.split()[1], line.split()[3])
                   for line in lines if line.split()[:1] and "." in line.split()[0] and "Running" in line)
    assert [(service, health) for service, _, health in tasks] == [
        ("langfuse", "healthy"), ("langfuse", "healthy"), ("postgres", "healthy"), ("redis", "healthy")], status.stdout
    assert sorted(node for service, node, _ in tasks if service == "langfuse") == [
        f"{team_stack.swarm.run}-node2", f"{team_stack.swarm.run}-node3"], status.stdout


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
    assert f"{STACK}_redis_password_" in seen["docker service inspect"]


def test_a_killed_postgres_task_comes_back_on_its_node_with_every_acknowledged_row(team_stack):
    rows = [f"swarm-user-{number}" for number in range(50)]
    # One psql session, one transaction per row (psql autocommits each
    # statement): every row is committed and acknowledged before the kill,
    # without 50 `docker exec` round trips through the node's engine.
    done = team_stack.psql("".join(f"INSERT INTO transbot.users (external_id) VALUES ('{row}');\n" for row in rows))
    assert done.returncode == 0, done.stderr  # acknowledged (ON_ERROR_STOP: a failed row fails psql)
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


def test_a_bad_langfuse_update_is_rolled_back_while_the_other_replica_serves(team_stack, tmp_path):
    before = {node.name: container["Id"] for node, container in team_stack.swarm.containers(STACK)
              if container["Config"]["Labels"]["com.docker.swarm.service.name"] == f"{STACK}_langfuse"}
    stop = tmp_path / "stop"
    pollers = {node: team_stack.poll_health(node, stop) for node in ("node2", "node3")}
    try:
        # An image without Langfuse in it: the new task cannot start.
        updated = team_stack.deploy(LANGFUSE_IMAGE=team_stack.images["redis"])
    finally:
        stop.touch()
        seen = {node: poller.communicate(timeout=30)[0] for node, poller in pollers.items()}
    assert updated.returncode == 1, updated
    assert "the update of langfuse was rolled back" in updated.stderr, updated.stderr
    team_stack.swarm.wait_converged(STACK)
    after = {node.name: container["Id"] for node, container in team_stack.swarm.containers(STACK)
             if container["Config"]["Labels"]["com.docker.swarm.service.name"] == f"{STACK}_langfuse"}
    untouched = [node for node in before if after.get(node) == before[node]]
    assert len(untouched) == 1, (before, after)
    requests, failures = seen[untouched[0]].split("\n", 1)[0].split()
    assert int(requests) > 10 and failures == "0", seen[untouched[0]]
    assert team_stack.script("swarm-status.sh").returncode == 0


def stack_secrets(swarm, stack: str = STACK) -> set[str]:
    """The secrets swarm-deploy.sh made for STACK (its label)."""
    return set(swarm.manager.docker("secret", "ls", "--format", "{{.Name}}", "--filter",
                                    f"label=transbot.stack={stack}", check=True).stdout.split())


def secrets_used_by(swarm, service: str) -> list[str]:
    spec = swarm.services(STACK)[f"{STACK}_{service}"]["Spec"]["TaskTemplate"]["ContainerSpec"]
    return [secret["SecretName"] for secret in spec.get("Secrets", [])]


def test_a_rotated_password_leaves_only_its_new_secret_once_no_service_uses_the_old(team_stack):
    swarm, manager = team_stack.swarm, team_stack.swarm.manager
    [old] = secrets_used_by(swarm, "redis")
    # Another stack's secret, and a staging service (no tasks) still on the
    # old version: neither may be pruned.
    manager.docker("secret", "create", "--label", "transbot.stack=other", "other_redis_password_0", "-",
                   input="other", check=True)
    manager.docker("service", "create", "--detach", "--quiet", "--replicas", "0", "--name", "staging",
                   "--secret", old, "--no-resolve-image", team_stack.images["redis"], check=True)
    env_file = team_stack.root / ".env.infra"
    env_file.write_text("".join("REDIS_PASSWORD=rotated0Redis0password\n" if line.startswith("REDIS_PASSWORD=")
                                else line for line in env_file.read_text().splitlines(keepends=True)))
    assert team_stack.passwords["REDIS_PASSWORD"] == "rotated0Redis0password"
    try:
        rotated = team_stack.deploy()
        assert rotated.returncode == 0 and "warning" not in rotated.stderr, rotated
        [new] = secrets_used_by(swarm, "redis")
        assert new != old
        current = {name for service in ("postgres", "redis", "langfuse") for name in secrets_used_by(swarm, service)}
        assert len(current) == len(SECRETS)
        assert stack_secrets(swarm) == current | {old}  # the staging service still uses it
        assert stack_secrets(swarm, "other") == {"other_redis_password_0"}
        manager.docker("service", "rm", "staging", check=True)
        again = team_stack.deploy()
        assert again.returncode == 0 and "warning" not in again.stderr, again
        assert stack_secrets(swarm) == current
        assert stack_secrets(swarm, "other") == {"other_redis_password_0"}
    finally:
        manager.docker("service", "rm", "staging")
        manager.docker("secret", "rm", "other_redis_password_0")
    assert team_stack.script("swarm-status.sh").returncode == 0


def test_delete_data_without_a_terminal_or_yes_is_refused_and_nothing_is_removed(team_stack):
    refused = team_stack.script("swarm-remove.sh", "--delete-data")
    assert refused.returncode == 2, refused
    assert "add --yes" in refused.stderr
    assert team_stack.swarm.services(STACK)


def test_removing_the_stack_keeps_the_data_and_a_new_deploy_finds_it(team_stack):
    swarm = team_stack.swarm
    removed = team_stack.script("swarm-remove.sh")
    assert removed.returncode == 0, removed
    assert f"{STACK}_postgres_data" in removed.stdout
    assert swarm.services(STACK) == {} and swarm.containers(STACK) == []
    volumes = swarm.manager.docker("volume", "ls", "-q").stdout.split()
    assert {f"{STACK}_postgres_data", f"{STACK}_redis_data"} <= set(volumes)
    deployed = team_stack.deploy()
    assert deployed.returncode == 0, deployed
    stored = team_stack.psql("SELECT count(*) FROM transbot.users WHERE external_id LIKE 'swarm-user-%';")
    assert stored.stdout.strip() == "50"
    read = team_stack.langfuse("node3", "read-trace", team_stack.trace_id)
    assert read.stdout.strip() == "swarm-journey", read.stderr


def test_remove_with_delete_data_empties_the_volumes_on_their_node(team_stack):
    removed = team_stack.script("swarm-remove.sh", "--delete-data", "--yes")
    assert removed.returncode == 0, removed
    node1 = team_stack.swarm.manager
    for volume in (f"{STACK}_postgres_data", f"{STACK}_redis_data"):
        listed = node1.docker("run", "--rm", "-v", f"{volume}:/data", "--entrypoint", "ls",
                              team_stack.images["redis"], "-A", "/data")
        assert (listed.returncode, listed.stdout) == (0, ""), (volume, listed)

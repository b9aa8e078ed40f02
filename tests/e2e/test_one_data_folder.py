"""One data folder, one server, on the real engine with real Compose.

Journey: a developer's stack runs in a clone. In that same clone they start
a second stack (another COMPOSE_PROJECT_NAME and free ports), or delete
.env.infra and let start.sh make a new one that carries another project
name: start.sh refuses with one line naming the running server's container,
its project and folder, and nothing of the second project is created. The
README's by-hand command, `docker compose --env-file .env.infra up -d` (and
`docker-compose ...` for v1), runs in the scripts' own project, because
.env.infra carries COMPOSE_PROJECT_NAME: no second server on volumes/.

Every stack here is a test stack: where the README's default project name
"transbot" would be, the copy's .env.infra.example carries the test's own
name instead.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from support.engine import free_port, project_containers, projects_started_from, run
from support.stack import PORT_VARIABLES, Stack

from .common import script_ok, set_env_value


def example_names_project(stack: Stack, project: str) -> None:
    """Sets COMPOSE_PROJECT_NAME in the copy's .env.infra.example: the line
    every new .env.infra takes its project name from."""
    path = stack.root / ".env.infra.example"
    text, count = re.subn(r"^COMPOSE_PROJECT_NAME=.*$", f"COMPOSE_PROJECT_NAME={project}", path.read_text(),
                          flags=re.M)
    assert count == 1, ".env.infra.example must carry COMPOSE_PROJECT_NAME once"
    path.write_text(text)


def free_ports() -> dict[str, str]:
    return {variable: str(free_port()) for variable in PORT_VARIABLES.values()}


def without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {key: value for key, value in env.items() if key not in names}


def container_name(stack: Stack, service: str) -> str:
    return run(["docker", "inspect", "--format", "{{.Name}}", stack.container(service)]).stdout.strip().lstrip("/")


def containers_mounting(folder: Path) -> list[str]:
    """Every container, running or not, that mounts FOLDER (by inode)."""
    ids = run(["docker", "ps", "-aq"]).stdout.split()
    if not ids:
        return []
    found = []
    for item in json.loads(run(["docker", "inspect", *ids]).stdout or "[]"):
        for mount in item.get("Mounts") or []:
            source = mount.get("Source", "")
            if source and os.path.exists(source) and os.path.samefile(source, folder):
                found.append(item["Name"].lstrip("/"))
    return found


def assert_refused_naming(result, stack: Stack) -> None:
    assert result.returncode == 1, result
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result
    assert (f"volumes/postgres is in use by the running container {container_name(stack, 'postgres')} "
            f"(project {stack.project}, started from {stack.root})") in errors[0], result
    assert f"COMPOSE_PROJECT_NAME={stack.project} ./scripts/stop.sh" in errors[0], result


def test_a_second_project_in_the_same_clone_is_refused_naming_the_running_server(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    second = f"{stack.project}second"
    refused = stack.script("start.sh", env=stack.env(COMPOSE_PROJECT_NAME=second, **free_ports()))
    assert_refused_naming(refused, stack)
    assert project_containers(second) == [], "a container of the second project was created"
    assert list(projects_started_from(stack.root)) == [stack.project]
    assert containers_mounting(stack.root / "volumes" / "postgres") == [container_name(stack, "postgres")]
    assert stack.script("health-check.sh").returncode == 0


def test_a_regenerated_env_file_with_another_project_name_is_refused(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    example_names_project(stack, stack.project)
    env = without(stack.env(), "COMPOSE_PROJECT_NAME")
    started = stack.script("start.sh", env=env)
    assert started.returncode == 0, started
    assert project_containers(stack.project), "the project name did not come from .env.infra"
    # .env.infra is deleted while the stack runs; the new one carries
    # another project name, and the ports are free ones.
    (stack.root / ".env.infra").unlink()
    second = f"{stack.project}regenerated"
    example_names_project(stack, second)
    refused = stack.script("start.sh", env={**env, **free_ports()})
    assert_refused_naming(refused, stack)
    assert stack.env_file()["COMPOSE_PROJECT_NAME"] == second
    assert project_containers(second) == [], "a container of the regenerated project was created"
    assert list(projects_started_from(stack.root)) == [stack.project]


def test_the_readme_by_hand_command_runs_in_the_scripts_project(make_stack, compose):
    stack = make_stack(compose)
    example_names_project(stack, stack.project)
    script_ok(stack, "init-env.sh")
    for service, variable in PORT_VARIABLES.items():
        set_env_value(stack, variable, str(stack.ports[service]))
    # As typed at a prompt: no project name or port in the shell.
    env = without(stack.env(), "COMPOSE_PROJECT_NAME", *PORT_VARIABLES.values())
    started = stack.script("start.sh", env=env)
    assert started.returncode == 0, started
    by_hand = run([*compose.command, "--env-file", ".env.infra", "up", "-d"], cwd=stack.root, env=env, timeout=300)
    assert by_hand.returncode == 0, by_hand.stderr
    assert list(projects_started_from(stack.root)) == [stack.project], "the by-hand command started a second stack"
    assert containers_mounting(stack.root / "volumes" / "postgres") == [container_name(stack, "postgres")]
    assert stack.script("health-check.sh", "--wait", env=env).returncode == 0

"""The unit tests' fake engine answers the scripts as the real one does.

The fake docker (tests/support/fake_docker.py) plays an engine whose
containers are described by a few fields (service, project, folder, ports,
mounts...). Here one container runs on the real engine, labelled as Compose
labels its containers, publishing a port and bind-mounting a folder whose
path holds a space. Those fields are read from its real `docker inspect`
JSON and given to the fake, and what the scripts ask about running containers
(scripts/lib/engine.sh: running_containers, container_mounts, and
container_of's filtered `ps -aq`) must print the same from both. A name
neither knows, and a flag docker does not take, fail alike.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from support.engine import PROJECT_PREFIX, REPO_ROOT, free_port, run
from support.fake_docker import DockerSandbox


@pytest.fixture
def probe(engine, images, tmp_path):
    """A running container as Compose would label it, and the fake's view of it."""
    project = f"{PROJECT_PREFIX}{os.getpid()}xfake"
    data = tmp_path / "clone with space" / "volumes" / "redis"
    data.mkdir(parents=True)
    started = run(["docker", "run", "-d", "--name", f"{project}-redis-1",
                   "--label", f"com.docker.compose.project={project}",
                   "--label", "com.docker.compose.service=redis",
                   "--label", f"com.docker.compose.project.working_dir={data.parent.parent}",
                   "-p", f"127.0.0.1:{free_port()}:6379", "-v", f"{data}:/data",
                   "--entrypoint", "sleep", images["redis"], "600"])
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        inspected = json.loads(run(["docker", "inspect", container]).stdout)
        listing = tmp_path / "engine.json"
        listing.write_text(json.dumps({"containers": [as_fake_container(inspected[0])], "networks": []}))
        sandbox = DockerSandbox.build(tmp_path / "sandbox")
        fake = {**os.environ, "PATH": sandbox.path(docker=True, compose_v1=False),
                "FAKE_DOCKER_CONTAINERS": str(listing)}
        yield container, project, fake
    finally:
        run(["docker", "rm", "-f", container], timeout=60)


def as_fake_container(inspected: dict) -> dict:
    """A container of the fake engine, from the real engine's inspect JSON."""
    labels = inspected["Config"]["Labels"]
    return {"id": inspected["Id"], "name": inspected["Name"].lstrip("/"), "state": inspected["State"]["Status"],
            "health": None, "project": labels["com.docker.compose.project"],
            "service": labels["com.docker.compose.service"],
            "working_dir": labels["com.docker.compose.project.working_dir"],
            "ports": [f"{binding['HostIp']}:{binding['HostPort']}:{target.split('/')[0]}"
                      for target, bindings in inspected["NetworkSettings"]["Ports"].items() for binding in bindings or []],
            "mounts": [{key: mount[key] for key in ("Type", "Source", "Destination")} for mount in inspected["Mounts"]]}


def library(command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """COMMAND in bash with the scripts' library loaded."""
    return subprocess.run(["bash", "-c", f'source "$1"; {command}', "probe", str(REPO_ROOT / "scripts/lib/all.sh")],
                          capture_output=True, text=True, timeout=60, env=env or os.environ.copy())


def test_the_running_containers_and_their_mounts_read_the_same(probe):
    container, project, fake = probe
    short = container[:12]
    listed = {name: library("running_containers", env) for name, env in (("real", None), ("fake", fake))}
    lines = {name: [line for line in result.stdout.splitlines() if line.startswith(short)]
             for name, result in listed.items()}
    assert lines["real"] and lines["real"] == lines["fake"], listed
    mounts = {name: library(f"container_mounts {short}", env).stdout for name, env in (("real", None), ("fake", fake))}
    assert f"{project}-redis-1" in mounts["real"] and mounts["real"] == mounts["fake"], mounts
    own = "docker ps -aq --filter label=com.docker.compose.project=$1 --filter label=com.docker.compose.service=redis"
    found = {name: subprocess.run(["bash", "-c", own, "probe", project], capture_output=True, text=True,
                                  timeout=60, env=env or os.environ.copy()).stdout
             for name, env in (("real", None), ("fake", fake))}
    assert found["real"] == found["fake"] == f"{short}\n", found


@pytest.mark.parametrize("args", [["inspect", "--format", "{{.Name}}", "tbtest-no-such-container"],
                                  ["ps", "--no-such-flag"]], ids=["unknown-name", "unknown-flag"])
def test_a_name_or_flag_docker_does_not_know_fails_alike(probe, args):
    _, _, fake = probe
    real = run(["docker", *args])
    faked = run(["docker", *args], env=fake)
    assert (faked.returncode, faked.stdout) == (real.returncode, real.stdout), (real, faked)
    assert faked.stderr.splitlines()[:1] == real.stderr.splitlines()[:1], (real.stderr, faked.stderr)
    assert real.returncode != 0

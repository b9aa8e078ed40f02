"""Fixtures of the swarm layer: a real three-node Docker Swarm (three
dockerd 26 in network namespaces of their own, see support/swarm.py) with
the team stack of deploy/swarm deployed on it by ./scripts/swarm-deploy.sh
from a clone of the repository.

node1 is the manager and holds PostgreSQL's and Redis's volumes; node2 and
node3 are workers that serve Langfuse. Built once per module (every swarm
test is one journey on one swarm, in one module, so pytest-xdist keeps it
on one worker) and removed afterwards, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.engine import REPO_ROOT, unavailable
from support.stack import Stack, copy_repository
from support.swarm import DOCKERD, Swarm, leftovers

# The passwords of .env.infra that swarm-deploy.sh turns into secrets.
SECRETS = ("POSTGRES_PASSWORD", "LANGFUSE_DB_PASSWORD", "REDIS_PASSWORD", "LANGFUSE_SECRET", "LANGFUSE_SALT",
           "LANGFUSE_ENCRYPTION_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_ADMIN_PASSWORD")
LABELS = {
    "node1": ["transbot.postgres=true", "transbot.redis=true"],
    "node2": ["transbot.langfuse=true"],
    "node3": ["transbot.langfuse=true"],
}
LANGFUSE_PORT = "3000"
STACK = "transbot"


@pytest.fixture(scope="module")
def swarm(images):
    # Root is checked by the tests' needs_root marker (a failure on CI).
    missing = [tool for tool in ("nsenter", "unshare", "ip", DOCKERD) if shutil.which(tool) is None]
    if missing:
        unavailable(f"a swarm of namespaced engines needs {', '.join(missing)}")
    built = Swarm.create(sorted(set(images.values())), LABELS)
    print(f"\nswarm {built.run} built in {sum(built.build_seconds.values()):.1f} s ({built.storage}): "
          f"{built.build_seconds}")
    try:
        yield built
    finally:
        built.destroy()
        left = leftovers(built.run)
        assert not left, f"the swarm's teardown left {left}"


@dataclass
class TeamStack:
    """A clone of the repository whose .env.infra deploys deploy/swarm's
    stack on the swarm through the real commands (swarm-deploy.sh, ...)."""

    swarm: Swarm
    root: Path
    images: dict[str, str]
    trace_id: str = ""  # a trace sent in the journey, read back after each upheaval

    @property
    def settings(self) -> dict[str, str]:
        return Stack(self.root, None, self.images).env_file()

    @property
    def public_key(self) -> str:
        return self.settings["LANGFUSE_PUBLIC_KEY"]

    @property
    def passwords(self) -> dict[str, str]:
        """Each password of .env.infra that becomes a secret."""
        return {name: self.settings[name] for name in SECRETS}

    def env(self, node: str = "node1", **overrides: str) -> dict[str, str]:
        """The environment of a user on the manager: docker talks to NODE."""
        env = {key: value for key, value in os.environ.items()
               if key not in ("DOCKER_CONTEXT", "COMPOSE_PROJECT_NAME", "NO_COLOR")}
        env.update({
            "DOCKER_HOST": self.swarm.node(node).host,
            "POSTGRES_IMAGE": self.images["postgres"],
            "REDIS_IMAGE": self.images["redis"],
            "LANGFUSE_IMAGE": self.images["langfuse"],
            "LANGFUSE_PORT": LANGFUSE_PORT,
            "LANGFUSE_URL": f"http://localhost:{LANGFUSE_PORT}",
        })
        env.update(overrides)
        return env

    def script(self, name: str, *args: str, node: str = "node1", timeout: float = 600,
               **overrides: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.root / "scripts" / name), *args], capture_output=True, text=True,
                              timeout=timeout, env=self.env(node, **overrides), cwd=self.root.parent,
                              stdin=subprocess.DEVNULL)

    def deploy(self, *args: str, **overrides: str) -> subprocess.CompletedProcess:
        return self.script("swarm-deploy.sh", "--timeout", "240", *args, **overrides)

    def langfuse(self, node_name: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """The Langfuse SDK, run inside NODE's network namespace against
        that node's published port."""
        node = self.swarm.node(node_name)
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "tests"),
               "LANGFUSE_HOST": f"http://{node.address}:{LANGFUSE_PORT}",
               "LANGFUSE_PUBLIC_KEY": self.public_key,
               "LANGFUSE_SECRET_KEY": self.settings["LANGFUSE_SECRET_KEY"]}
        return subprocess.run(node.in_netns(sys.executable, "-m", "support.netns_client", *args),
                              capture_output=True, text=True, timeout=timeout, env=env)

    def langfuse_on_each(self, nodes: tuple[str, ...], *args: str) -> dict[str, subprocess.CompletedProcess]:
        """The same SDK command through each of NODES at once (each client
        spends seconds starting Python and the SDK)."""
        with ThreadPoolExecutor(len(nodes)) as pool:
            return dict(zip(nodes, pool.map(lambda node: self.langfuse(node, *args), nodes)))

    def poll_health(self, node_name: str, stop_file: Path) -> subprocess.Popen:
        """A client polling NODE's Langfuse health every 100 ms until
        STOP_FILE exists; its output is "REQUESTS FAILURES" and the failures."""
        node = self.swarm.node(node_name)
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "tests"),
               "LANGFUSE_HOST": f"http://{node.address}:{LANGFUSE_PORT}"}
        return subprocess.Popen(node.in_netns(sys.executable, "-m", "support.netns_client", "poll-health",
                                              str(stop_file)), stdout=subprocess.PIPE, text=True, env=env)

    def container(self, service: str):
        """The (node, inspected container) running SERVICE's one task."""
        found = [(node, item) for node, item in self.swarm.containers(STACK)
                 if item["Config"]["Labels"].get("com.docker.swarm.service.name") == f"{STACK}_{service}"]
        assert len(found) == 1, found
        return found[0]

    def psql(self, sql: str) -> subprocess.CompletedProcess:
        """SQL run by psql inside the PostgreSQL task (over its socket), from stdin."""
        node, container = self.container("postgres")
        return node.docker("exec", "-i", container["Id"], "psql", "-v", "ON_ERROR_STOP=1", "-qtA",
                           "-U", "transbot_user", "-d", "transbot", input=sql)


@pytest.fixture(scope="module")
def clone(swarm, images, tmp_path_factory) -> TeamStack:
    """A clone with its .env.infra (generated by init-env.sh), not deployed yet."""
    root = copy_repository(tmp_path_factory.mktemp("swarm-clone") / "repo")
    stack = TeamStack(swarm, root, images)
    created = stack.script("init-env.sh")
    assert created.returncode == 0, created.stderr
    return stack


@pytest.fixture(scope="module")
def team_stack(clone) -> TeamStack:
    """The stack deployed by ./scripts/swarm-deploy.sh, converged and healthy."""
    began = time.monotonic()
    deployed = clone.deploy()
    assert deployed.returncode == 0, f"{deployed.stdout}{deployed.stderr}"
    print(f"\nstack deployed and healthy in {time.monotonic() - began:.1f} s")
    return clone


@pytest.fixture(autouse=True)
def _diagnostics_on_failure(request):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "team_stack" in request.fixturenames:
        stack = request.getfixturevalue("team_stack")
        print(f"\n===== swarm diagnostics =====\n{stack.swarm.diagnostics(STACK)}")

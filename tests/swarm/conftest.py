"""Fixtures of the swarm layer: a real three-node Docker Swarm (three
dockerd 26 in network namespaces of their own, see support/swarm.py) with
the team stack of deploy/swarm deployed on it.

node1 is the manager and holds PostgreSQL's and Redis's volumes; node2 and
node3 are workers that serve Langfuse. Built once per module (every swarm
test is one journey on one swarm, in one module, so pytest-xdist keeps it
on one worker) and removed afterwards, whatever happened.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.engine import REPO_ROOT, unavailable
from support.swarm import DOCKERD, Swarm, leftovers

STACK_FILE = REPO_ROOT / "deploy" / "swarm" / "stack.yml"
# What the configs of the stack are made from: their hash versions the
# configs' names (configs are immutable).
CONFIG_FILES = [
    REPO_ROOT / "deploy" / "swarm" / "langfuse-entrypoint.sh",
    REPO_ROOT / "deploy" / "swarm" / "postgres-langfuse-database.sh",
    REPO_ROOT / "services" / "postgres" / "langfuse-database.sh",
    REPO_ROOT / "services" / "postgres" / "init.sql",
    REPO_ROOT / "services" / "redis" / "redis-server.sh",
]
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
    print(f"\nswarm {built.run} built in {sum(built.build_seconds.values()):.1f} s: {built.build_seconds}")
    try:
        yield built
    finally:
        built.destroy()
        left = leftovers(built.run)
        assert not left, f"the swarm's teardown left {left}"


@dataclass
class TeamStack:
    """The deploy/swarm stack on the swarm, with the passwords it was given."""

    swarm: Swarm
    passwords: dict[str, str]  # the *_SECRET variable -> the secret's value
    variables: dict[str, str]
    trace_id: str = ""  # a trace sent in the journey, read back after each upheaval

    @property
    def public_key(self) -> str:
        return self.variables["LANGFUSE_PUBLIC_KEY"]

    def deploy(self) -> None:
        result = self.swarm.deploy(STACK_FILE, STACK, self.variables)
        assert result.returncode == 0, f"docker stack deploy failed:\n{result.stdout}{result.stderr}"
        self.swarm.wait_converged(STACK)

    def langfuse(self, node_name: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """The Langfuse SDK, run inside NODE's network namespace against
        that node's published port."""
        node = self.swarm.node(node_name)
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "tests"),
               "LANGFUSE_HOST": f"http://{node.address}:{LANGFUSE_PORT}",
               "LANGFUSE_PUBLIC_KEY": self.public_key,
               "LANGFUSE_SECRET_KEY": self.passwords["LANGFUSE_SECRET_KEY_SECRET"]}
        return subprocess.run(node.in_netns(sys.executable, "-m", "support.netns_client", *args),
                              capture_output=True, text=True, timeout=timeout, env=env)

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


def _passwords() -> dict[str, str]:
    # Characters a URL or a shell would trip over, in the one password that
    # ends up in a URL (DATABASE_URL), plus randomness: a value found
    # anywhere it must not be can only have come from the secret.
    return {
        "POSTGRES_PASSWORD_SECRET": f"pg {secrets.token_hex(8)} $'\"",
        "LANGFUSE_DB_PASSWORD_SECRET": f"lf@db/{secrets.token_hex(8)}%:#?",
        "REDIS_PASSWORD_SECRET": f"redis-{secrets.token_hex(8)}",
        "LANGFUSE_SECRET_SECRET": secrets.token_hex(16),
        "LANGFUSE_SALT_SECRET": secrets.token_hex(16),
        "LANGFUSE_ENCRYPTION_KEY_SECRET": secrets.token_hex(32),
        "LANGFUSE_SECRET_KEY_SECRET": f"sk-lf-{secrets.token_hex(12)}",
        "LANGFUSE_ADMIN_PASSWORD_SECRET": f"admin-{secrets.token_hex(8)}",
    }


def _configs_version() -> str:
    digest = hashlib.sha256()
    for path in CONFIG_FILES:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


@pytest.fixture(scope="module")
def team_stack(swarm, images) -> TeamStack:
    """The stack deployed from deploy/swarm/stack.yml with raw `docker stack
    deploy` (what the deploy command will do), converged and healthy."""
    passwords = _passwords()
    variables = {
        "POSTGRES_IMAGE": images["postgres"],
        "REDIS_IMAGE": images["redis"],
        "LANGFUSE_IMAGE": images["langfuse"],
        "LANGFUSE_PORT": LANGFUSE_PORT,
        "LANGFUSE_URL": f"http://localhost:{LANGFUSE_PORT}",
        "LANGFUSE_PUBLIC_KEY": f"pk-lf-{secrets.token_hex(12)}",
        "CONFIGS_VERSION": _configs_version(),
    }
    for variable, value in passwords.items():
        # e.g. transbot_postgres_password_<hash8>
        variables[variable] = swarm.create_secret("transbot_" + variable.removesuffix("_SECRET").lower(), value)
    stack = TeamStack(swarm, passwords, variables)
    began = time.monotonic()
    stack.deploy()
    print(f"\nstack deployed and healthy in {time.monotonic() - began:.1f} s")
    return stack


@pytest.fixture(autouse=True)
def _diagnostics_on_failure(request):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "team_stack" in request.fixturenames:
        stack = request.getfixturevalue("team_stack")
        print(f"\n===== swarm diagnostics =====\n{stack.swarm.diagnostics(STACK)}")

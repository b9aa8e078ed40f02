"""Fixtures of the integration layer: single containers, configured from
docker-compose.yml, removed when their fixture ends, even on failure."""

from __future__ import annotations

import pytest

from support.engine import build_standins

from .servers import LIVE, ContainerPool


@pytest.fixture(scope="module")
def module_pool(images):
    """Containers shared by the tests of one module."""
    pool = ContainerPool(images)
    yield pool
    pool.remove_all()


@pytest.fixture
def pool(images):
    """Containers of one test."""
    pool = ContainerPool(images)
    yield pool
    pool.remove_all()


@pytest.fixture(autouse=True)
def _container_logs_on_failure(request):
    """Prints the state and last log lines of every live container when a
    test fails."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed:
        return
    for container in list(LIVE.values()):
        status, code = container.state()
        print(f"\n===== {container.name} ({container.image}): {status}, exit {code} =====")
        print("\n".join(container.logs().splitlines()[-40:]))


@pytest.fixture(scope="session")
def standins(engine) -> None:
    """Every stand-in image built (the tests of the stand-ins themselves
    use them whichever images TRANSBOT_TEST_IMAGES chose)."""
    build_standins()

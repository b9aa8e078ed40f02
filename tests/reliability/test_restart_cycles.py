"""Twenty stop/start and restart cycles, of the whole stack and of single
services, through the scripts on one stack.

After each cycle: every script exited 0, health-check says healthy, every
row and key written in an earlier cycle is still there, and nothing grows:
exactly one container per service and one network for the project, no
Docker volumes (the data lives in bind mounts under volumes/), and no file
left behind in the repository. TRANSBOT_RELIABILITY_CYCLES changes the
number of cycles (default 20).
"""

from __future__ import annotations

import os
import time

import pytest

from support import clients
from support.engine import run

from .common import (
    SERVICES,
    anonymous_volume_mounts,
    docker_state,
    health_check,
    script_ok,
    tree_difference,
    tree_snapshot,
)

OPERATIONS = (
    ("stack stop/start", (("stop.sh",), ("start.sh",))),
    ("stack restart", (("restart.sh",),)),
    ("postgres stop/start", (("stop.sh", "postgres"), ("start.sh", "postgres"))),
    ("redis restart", (("restart.sh", "redis"),)),
    ("langfuse stop/start", (("stop.sh", "langfuse"), ("start.sh", "langfuse"))),
    ("postgres restart", (("restart.sh", "postgres"),)),
    ("redis stop/start", (("stop.sh", "redis"), ("start.sh", "redis"))),
    ("langfuse restart", (("restart.sh", "langfuse"),)),
)
CYCLES = int(os.environ.get("TRANSBOT_RELIABILITY_CYCLES", "20"))
CYCLE_IDS = [f"{number:02d}-{OPERATIONS[(number - 1) % len(OPERATIONS)][0].replace(' ', '-')}"
             for number in range(1, CYCLES + 1)]


class Baseline:
    files: dict = {}
    written: list[int] = []
    durations: list[float] = []


@pytest.fixture(scope="module")
def stack(module_stack):
    stack = module_stack()
    script_ok(stack, "start.sh")
    Baseline.files = tree_snapshot(stack.root.parent)
    Baseline.written = []
    Baseline.durations = []
    return stack


def _write_marker(stack, number: int, written: list[int]) -> None:
    clients.write_row_and_key(stack, "cycles@example.com", f"cycle-{number}", f"cycle:{number}", str(number))
    written.append(number)


def _assert_data_intact(stack, written: list[int]) -> None:
    with clients.postgres(stack) as conn:
        texts = [text for text in clients.translation_texts(conn) if text.startswith("cycle-")]
    assert sorted(texts) == sorted(f"cycle-{number}" for number in written), "rows lost or duplicated"
    cache = clients.redis_client(stack)
    values = cache.mget([f"cycle:{number}" for number in written]) if written else []
    cache.close()
    assert values == [str(number) for number in written], "redis keys lost"


def _assert_no_leftovers(stack, files: dict) -> None:
    """One running container per service, one network, no Docker volume,
    and the repository's files as they were."""
    state = docker_state(stack.project)
    services = run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={stack.project}",
                    "--format", '{{.Label "com.docker.compose.service"}}']).stdout.split()
    assert sorted(services) == sorted(SERVICES), state
    assert all(status == "running" for _, _, status, *_ in state["containers"]), state
    assert len(state["networks"]) == 1, state
    assert state["volumes"] == [], state
    assert anonymous_volume_mounts(stack.project) == []
    changes = tree_difference(files, tree_snapshot(stack.root.parent))
    assert changes == [], f"files left behind or changed: {changes}"


@pytest.mark.parametrize("cycle", CYCLE_IDS)
def test_cycle_keeps_the_stack_healthy_and_the_data(stack, figures, cycle):
    number = int(cycle.split("-")[0])
    if number == 1:
        _write_marker(stack, 0, Baseline.written)
    name, steps = OPERATIONS[(number - 1) % len(OPERATIONS)]
    began = time.monotonic()
    for args in steps:
        result = script_ok(stack, *args)
        if args[0] != "stop.sh":
            for service in (args[1:] or SERVICES):
                assert f"{service} is healthy" in result.stdout, str(result)
    Baseline.durations.append(time.monotonic() - began)
    figures.count("restart_cycles", "cycles_run")
    figures.record("restart_cycles", cycles_planned=CYCLES,
                   average_cycle_seconds=round(sum(Baseline.durations) / len(Baseline.durations), 1))
    checked = health_check(stack)
    assert checked.returncode == 0, str(checked)
    _assert_data_intact(stack, Baseline.written)
    _assert_no_leftovers(stack, Baseline.files)
    _write_marker(stack, number, Baseline.written)
    figures.count("restart_cycles", "cycles_passed")


V1_OPERATIONS = (OPERATIONS[0], OPERATIONS[1], OPERATIONS[2], OPERATIONS[3])


def test_compose_v1_cycles_keep_the_data_and_leave_nothing_behind(make_stack, compose_v1, figures):
    """The same checks, for a few cycles with Compose v1, whose `down` and
    container naming differ from v2's."""
    stack = make_stack(compose_v1)
    script_ok(stack, "start.sh")
    files = tree_snapshot(stack.root.parent)
    written: list[int] = []
    _write_marker(stack, 0, written)
    for number, (name, steps) in enumerate(V1_OPERATIONS, start=1):
        for args in steps:
            script_ok(stack, *args)
        checked = health_check(stack)
        assert checked.returncode == 0, f"after {name}: {checked}"
        _assert_data_intact(stack, written)
        _assert_no_leftovers(stack, files)
        _write_marker(stack, number, written)
        figures.count("restart_cycles", "compose_v1_cycles_run")
    figures.count("restart_cycles", "compose_v1_cycles_passed", by=len(V1_OPERATIONS))

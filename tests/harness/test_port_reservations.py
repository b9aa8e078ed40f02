"""Ports the harness hands out are never handed to two live test processes.

The suite runs in parallel (pytest-xdist workers, a root and a non-root
session, other checkouts on the same machine), and a stack's ports are
chosen before Docker binds them: the registry in support.engine must keep
two processes from choosing the same one.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys

import pytest

from support import engine


@pytest.fixture
def registry(tmp_path, monkeypatch):
    folder = tmp_path / "ports"
    monkeypatch.setattr(engine, "PORT_REGISTRY", folder)
    monkeypatch.setattr(engine, "_OWN_RESERVATIONS", [])
    return folder


def test_ports_are_distinct_and_registered_to_this_process(registry):
    ports = [engine.free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all((registry / str(port)).read_text().strip() == str(__import__("os").getpid()) for port in ports)
    assert registry.stat().st_mode & 0o7777 == 0o1777, "other users could not reserve ports"


def test_a_port_held_by_a_live_process_is_not_given_out(registry):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        registry.mkdir()
        (registry / "40001").write_text(f"{holder.pid}\n")
        assert engine._reserve(40001) is False
        assert (registry / "40001").read_text().strip() == str(holder.pid)
    finally:
        holder.kill()
        holder.wait()


def test_a_dead_process_reservation_is_taken_over(registry):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    registry.mkdir()
    (registry / "40002").write_text(gone.stdout)
    assert engine._reserve(40002) is True
    assert engine._reserve(40002) is False, "the same process got one port twice"


def _take_ports(folder, count, queue):
    engine.PORT_REGISTRY = folder
    queue.put([engine.free_port() for _ in range(count)])


def test_concurrent_processes_never_share_a_port(registry):
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_take_ports, args=(registry, 300, queue)) for _ in range(4)]
    for worker in workers:
        worker.start()
    taken = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    everything = [port for ports in taken for port in ports]
    assert len(everything) == 1200
    assert len(set(everything)) == 1200, "two processes were given the same port"

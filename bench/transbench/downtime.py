"""Downtime seen from outside: a client that asks a service every 100 ms
while a command runs, and the figures its timeline gives.

A probe is one question on a new connection through the published port
(as a client reconnecting would ask), and it succeeds only when the answer
is the one expected (for PostgreSQL: the data as it was, not a server that
answers while it is still being restored). The figures (bench/README.md,
"Upgrade and update downtime"):

  downtime     the longest time between two consecutive successful answers
               (the normal spacing, one interval plus a probe's latency, is
               the measure's resolution and is reported beside it)
  unavailable  the sum of the gaps between successful answers that hold at
               least one failed probe (several outages add up)
  failed       how many probes failed

The command's own time runs from its launch to its exit; the probes start
before it and go on after it until one more success, so an outage that
outlasts the command is counted whole.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from .common import BenchError, median

PROBE_INTERVAL_S = 0.1
# How long the probes go on after the command for one more success.
AFTER_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Probe:
    start: float  # time.monotonic() when asked
    end: float  # when the answer (or the failure) came
    ok: bool


def outage(probes: list[Probe]) -> dict:
    """The figures of one timeline; None values when it cannot tell (no
    success before or after the outage)."""
    successes = [p.end for p in probes if p.ok]
    failures = [p for p in probes if not p.ok]
    result = {"probes": len(probes), "failed": len(failures), "downtime_s": None, "unavailable_s": None,
              "spacing_s": None}
    if len(successes) < 2 or not probes[-1].ok or not probes[0].ok:
        return result
    gaps = [(a, b) for a, b in zip(successes, successes[1:])]
    result["downtime_s"] = max(b - a for a, b in gaps)
    result["spacing_s"] = median([b - a for a, b in gaps])
    result["unavailable_s"] = sum(b - a for a, b in gaps if any(a < f.end < b for f in failures))
    return result


def trimmed(probes: list[Probe], after: int) -> list[Probe]:
    """The timeline from the first success to the first success at or after
    index AFTER (or to the end when there is none): failures before the
    first answer (the prober warming up) and probes asked after the one
    awaited are no part of the measurement."""
    first = next((i for i, p in enumerate(probes) if p.ok), len(probes))
    last = next((i for i in range(max(after, first + 1), len(probes)) if probes[i].ok), len(probes) - 1)
    return probes[first:last + 1]


class Prober:
    """Asks CHECK every PROBE_INTERVAL_S in a thread of its own, from
    start() until stop(); CHECK returns True when the answer is right and
    must not raise (a failure is False) nor hang beyond a few seconds."""

    def __init__(self, check: Callable[[], bool], interval: float = PROBE_INTERVAL_S):
        self.check = check
        self.interval = interval
        self.probes: list[Probe] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _ask(self) -> bool:
        try:
            return bool(self.check())
        except Exception:  # a probe that breaks is a failed probe
            return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            ok = self._ask()
            self.probes.append(Probe(began, time.monotonic(), ok))
            self._stop.wait(max(0.0, began + self.interval - time.monotonic()))

    def start(self, settle: float = 10.0) -> None:
        """Starts probing and returns once a probe succeeded (the timeline
        begins with the service answering)."""
        self._thread = threading.Thread(target=self._loop, name="prober", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + settle
        while not any(p.ok for p in self.probes):
            if time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"the probe never succeeded before the measurement ({len(self.probes)} tries)")
            time.sleep(0.05)

    def stop(self, until_ok: bool = False) -> list[Probe]:
        """Stops probing (after one more success when UNTIL_OK) and returns
        the timeline, ending with the last probe asked."""
        count = len(self.probes)
        if until_ok:
            deadline = time.monotonic() + AFTER_TIMEOUT_S
            while time.monotonic() < deadline and not (len(self.probes) > count and self.probes[-1].ok):
                time.sleep(0.05)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        return trimmed(self.probes, count if until_ok else len(self.probes))


def measure(check: Callable[[], bool], action: Callable[[], None]) -> tuple[float, dict]:
    """Runs ACTION under probes of CHECK: its seconds and the outage figures."""
    seconds, found = measure_each({"service": check}, action)
    return seconds, found["service"]


def measure_each(checks: dict[str, Callable[[], bool]], action: Callable[[], None]) -> tuple[float, dict]:
    """Runs ACTION under probes of each of CHECKS at once (one prober per
    service): its seconds and the outage figures of each."""
    probers = {name: Prober(check) for name, check in checks.items()}
    started = []
    try:
        for prober in probers.values():
            prober.start()
            started.append(prober)
    except BenchError:
        for prober in started:
            prober.stop()
        raise
    began = time.perf_counter()
    try:
        action()
    finally:
        seconds = time.perf_counter() - began
        # One more success of every service after the end (in turn: the
        # others go on probing meanwhile, which changes nothing they count).
        timelines = {name: prober.stop(until_ok=True) for name, prober in probers.items()}
    found = {name: outage(probes) for name, probes in timelines.items()}
    for name, figures in found.items():
        if figures["downtime_s"] is None:
            raise BenchError(f"{name} did not answer again within {AFTER_TIMEOUT_S:.0f} s of the end "
                             f"({figures['failed']} of {figures['probes']} probes failed)")
    return seconds, found

"""A pytest plugin of the mutation run: writes each test's outcome, one JSON
line {"nodeid", "outcome"} per report, to the file named by
TRANSBOT_MUTATION_OUTCOMES. Loaded with -p mutations.outcomes."""

from __future__ import annotations

import json
import os


def _write(nodeid: str, outcome: str) -> None:
    path = os.environ.get("TRANSBOT_MUTATION_OUTCOMES")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"nodeid": nodeid, "outcome": outcome}) + "\n")


def pytest_runtest_logreport(report):
    # A failure in any phase (setup, call, teardown) is a red test; a pass
    # counts only for the call itself.
    if report.failed:
        _write(report.nodeid, "failed")
    elif report.skipped:
        _write(report.nodeid, "skipped")
    elif report.when == "call":
        _write(report.nodeid, "passed")


def pytest_collectreport(report):
    # A module that no longer imports is as red as a failing test.
    if report.failed:
        _write(report.nodeid or "<collection>", "failed")

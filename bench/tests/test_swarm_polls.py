"""bench/swarm.sh's count of failed health polls during a rolling update:
only failures through a node while the other one was failing (being
updated) count against the target."""

from __future__ import annotations

from transbench.swarm import other_node_failures


def test_each_node_failing_in_its_own_turn_counts_nothing():
    seen = {"node2": {"requests": 100, "failures": [10.0, 10.1, 10.2]},
            "node3": {"requests": 100, "failures": [20.0, 20.1]}}
    assert other_node_failures(seen) == 0


def test_failures_through_one_node_while_the_other_is_down_count():
    seen = {"node2": {"requests": 100, "failures": [10.0, 10.1, 10.2, 10.3]},
            "node3": {"requests": 100, "failures": [10.15, 20.0]}}
    # node3's 10.15 falls in node2's span; node2's 10.2 and 10.3 in node3's (10.15-20.0).
    assert other_node_failures(seen) == 3


def test_no_failures_at_all_counts_nothing():
    assert other_node_failures({"node2": {"requests": 5, "failures": []},
                                "node3": {"requests": 5, "failures": []}}) == 0

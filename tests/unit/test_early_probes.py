"""A service's client probe runs the moment the engine reports it healthy
while `up` still waits for it, and counts only for that very container.

Journey: start.sh starts the stack; Compose waits for PostgreSQL to be
healthy before it starts Langfuse. The engine's health event for PostgreSQL
starts its client probe at once, while the CPU is idle, so that nothing is
left to probe but Langfuse once everything is healthy. An early probe that
failed, or that probed a container `up` then replaced, is run again on the
container that ended up healthy.

wait_until_healthy (scripts/lib/health.sh) runs here with the real library
and a fake `docker` on PATH: its event stream reports what the test says,
`ps` and `inspect` the containers the test says, and `exec` answers the
PostgreSQL probe's psql, logging which container it was asked about and
whether `up` had returned. `up` is a background process, watched by the
real compose_up_running, that returns when the event stream says so: each
step waits for what it needs, not for a time that a loaded machine may
overrun. The real engine runs the whole start in tests/e2e.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.engine import REPO_ROOT

_FAKE_DOCKER = r'''#!/bin/bash
# Only what wait_until_healthy and the PostgreSQL probe ask.
case "$1" in
    events)
        # The stream's lines as follow_project_events formats them.
        [[ "$*" == *'{{.Actor.ID}} {{index .Actor.Attributes "com.docker.compose.service"}} {{.Action}}'* ]] || exit 1
        # Besides events, the test's script says: "sleep N"; "up-returns"
        # (`up` ends with status 0); "probed ID" (until a probe of ID ran).
        while IFS= read -r line; do
            case "$line" in
                "sleep "*) $line ;;
                up-returns) printf 0 >"$UP_STATUS_FILE" ;;
                "probed "*)
                    for _ in $(seq 200); do
                        ! grep -q "^${line#probed } " "$FAKE/probed" 2>/dev/null || break
                        sleep 0.05
                    done ;;
                *) echo "$line" ;;
            esac
        done <"$FAKE/events"
        exec sleep 3600 ;;
    ps) cat "$FAKE/ps" ;;
    inspect) cat "$FAKE/inspect" ;;
    exec)
        shift
        while [[ "$1" == -e ]]; do shift 2; done
        container="$1"
        up=running
        [[ ! -s "$UP_STATUS_FILE" ]] || up=ended
        echo "$container $up" >>"$FAKE/probed"
        [[ ! -e "$FAKE/slow.$container" ]] || sleep 0.6
        if [[ -e "$FAKE/fails.$container" ]]; then
            echo "FATAL:  password authentication failed" >&2
            exit 2
        fi
        if [[ -e "$FAKE/fails-once.$container" ]]; then
            rm "$FAKE/fails-once.$container"
            echo "psql: error: connection refused" >&2
            exit 2
        fi
        echo 1 ;;
    *) echo "fake docker: no $1" >&2; exit 1 ;;
esac
'''

_START = r'''
source "$REPO/scripts/lib/all.sh"
# `up`, waiting for a dependency, until the event stream says it returns.
_UP_STATUS_FILE="$UP_STATUS_FILE"
( while [[ ! -s "$_UP_STATUS_FILE" ]]; do sleep 0.05; done ) &
_UP_PID="$!"
probes="$(mktemp -d)"
wait_until_healthy --probe-into "$probes" 30 postgres || exit 1
wait_for_probes
echo "probe: $(<"$probes/postgres")"
'''


def start(tmp_path: Path, events: list[str], container: str, **files: str):
    """Runs the wait with the engine reporting EVENTS (and the fake's
    directives) and CONTAINER as postgres's container; FILES are the
    fake's other files (fails.ID, fails-once.ID, slow.ID: answers after 0.6 s).
    Returns the result and
    the probes asked, one "CONTAINER running|ended" line each."""
    fake = tmp_path / "fake"
    bin_dir = tmp_path / "bin"
    fake.mkdir()
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(_FAKE_DOCKER)
    docker.chmod(0o755)
    (fake / "events").write_text("".join(f"{line}\n" for line in events))
    (fake / "ps").write_text(f"{container} postgres {tmp_path}\n")
    (fake / "inspect").write_text(f"postgres {container} running healthy 0 1 {{}}\n")
    for name, text in files.items():
        (fake / name.replace("_", ".")).write_text(text)
    status_file = tmp_path / "up-status"
    status_file.write_text("")
    result = subprocess.run(["bash", "-c", _START], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL,
                            env={"PATH": f"{bin_dir}:/usr/bin:/bin", "REPO": str(REPO_ROOT), "FAKE": str(fake),
                                 "UP_STATUS_FILE": str(status_file), "NO_COLOR": "1"})
    probed_file = fake / "probed"
    probed = probed_file.read_text().splitlines() if probed_file.exists() else []
    return result, probed


def probe_line(result) -> str:
    return [line for line in result.stdout.splitlines() if line.startswith("probe: ")][-1]


def test_a_service_reported_healthy_while_up_waits_is_probed_then_and_only_then(tmp_path):
    result, probed = start(tmp_path, ["c-pg postgres health_status: healthy", "probed c-pg", "up-returns"], "c-pg")
    assert result.returncode == 0, result
    assert probed == ["c-pg running"], probed
    assert probe_line(result).startswith("probe: ok SELECT 1 as transbot_user"), result


def test_an_early_probe_that_failed_is_run_again_once_the_service_is_healthy(tmp_path):
    result, probed = start(tmp_path, ["c-pg postgres health_status: healthy", "probed c-pg", "up-returns"], "c-pg",
                           **{"fails-once_c-pg": ""})
    assert result.returncode == 0, result
    assert probed == ["c-pg running", "c-pg ended"], probed
    assert probe_line(result).startswith("probe: ok "), result


def test_an_early_probe_of_a_container_up_replaced_does_not_count(tmp_path):
    # The old container passed; the one `up` left healthy refuses the password.
    result, probed = start(tmp_path, ["c-old postgres health_status: healthy", "probed c-old", "up-returns"], "c-new",
                           **{"fails_c-new": ""})
    assert result.returncode == 0, result
    assert probed == ["c-old running", "c-new ended"], probed
    assert probe_line(result) == "probe: fail FATAL:  password authentication failed", result


def test_a_slow_early_probe_of_a_replaced_container_does_not_answer_for_its_successor(tmp_path):
    # `up` replaced the container: the old one's probe passes last, the new
    # one's fails.
    result, probed = start(tmp_path, ["c-old postgres health_status: healthy", "probed c-old",
                                      "c-new postgres health_status: healthy", "probed c-new", "up-returns"],
                           "c-new",
                           **{"slow_c-old": "", "fails_c-new": ""})
    assert result.returncode == 0, result
    assert probe_line(result) == "probe: fail FATAL:  password authentication failed", result
    assert sorted(probed) == ["c-new ended", "c-new running", "c-old running"], probed


def test_other_events_start_no_probe_before_the_end(tmp_path):
    result, probed = start(tmp_path, ["c-pg postgres start", "c-pg postgres health_status: starting",
                                      "c-app app health_status: healthy", "sleep 0.5", "up-returns"], "c-pg")
    assert result.returncode == 0, result
    assert probed == ["c-pg ended"], probed


_SPLIT_EVENT = r'''
source "$REPO/scripts/lib/all.sh"
# The engine writes a line in two pieces, the first read's time running
# out between them.
exec {fd}< <(printf 'c-p'; sleep 0.5; printf 'g postgres health_status: healthy\n'; sleep 5)
next_events "$fd" 0.2
echo "first: ${#_NEXT_EVENTS[@]}"
next_events "$fd" 2
echo "then: ${_NEXT_EVENTS[*]}"
'''


def test_an_event_whose_line_comes_in_two_pieces_is_read_whole():
    result = subprocess.run(["bash", "-c", _SPLIT_EVENT], capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "REPO": str(REPO_ROOT)})
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["first: 0", "then: c-pg postgres health_status: healthy"], result

"""A developer presses Ctrl-C, or names a backup folder the wrong way.

Journey: Ctrl-C while Compose starts the stack says the command was
interrupted and exits 130, without blaming Compose or printing pages of
diagnostics. restore.sh takes a folder relative to where the developer is,
says "does not exist" for a missing one (naming it in their own script,
accents and all), and gives one clear reason for a MANIFEST that was
emptied or passed through Windows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from support.engine import as_from_a_prompt

from .harness import one_line_error


def test_ctrl_c_during_compose_up_says_interrupted_and_exits_130(harness):
    harness.write_env()
    process = subprocess.Popen([str(harness.repo / "scripts" / "start.sh")],
                               env=harness.env(FAKE_DOCKER_COMPOSE_SLEEP="10"), cwd=harness.workdir,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True, preexec_fn=as_from_a_prompt)
    deadline = time.monotonic() + 20
    while not any(call.compose_command[:1] == ["up"] for call in harness.compose_calls()):
        assert time.monotonic() < deadline, "compose up was never called"
        time.sleep(0.1)
    # Ctrl-C reaches the whole foreground process group, as in a terminal.
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert stderr.count("error:") == 1, stderr
    assert "docker compose up failed" not in stderr
    assert "--- postgres ---" not in stderr


def write_backup(folder, manifest: bytes) -> None:
    folder.mkdir(parents=True)
    (folder / "MANIFEST").write_bytes(manifest)
    (folder / "redis.rdb").write_bytes(b"REDIS0011")


def test_a_missing_backup_folder_is_named_as_missing(harness):
    harness.write_env()
    result = harness.run("restore.sh", "backups/20260101T000000Z", "--yes")
    line = one_line_error(result)
    assert result.returncode == 1
    assert "backups/20260101T000000Z does not exist" in line
    assert f"relative paths are taken from {harness.workdir}" in line
    assert harness.compose_calls() == []


def test_a_relative_backup_path_is_taken_from_where_the_user_is(harness):
    harness.write_env()
    write_backup(harness.workdir / "mine", b"created 2026-01-01T00:00:00Z\n")
    result = harness.run("restore.sh", "mine", "--yes")
    assert result.returncode == 1, result
    assert "lists no files" in one_line_error(result), "the folder was not found from the user's directory"


def test_non_ascii_folder_names_are_shown_as_they_are(harness):
    harness.write_env()
    result = harness.run("restore.sh", "sauvegardes/Données-été", "--yes", env={"LC_ALL": "C.UTF-8"})
    assert result.returncode == 1, result
    assert "sauvegardes/Données-été does not exist" in one_line_error(result)


@pytest.mark.parametrize(("manifest", "phrase"), [
    (b"", "lists no files"),
    (b"# TransBot infrastructure backup\r\ncreated 2026\r\nsha256 ab redis.rdb\r\n", "Windows (CRLF) line endings"),
])
def test_a_damaged_manifest_gets_one_reason(harness, manifest, phrase):
    harness.write_env()
    write_backup(harness.repo / "backups" / "b1", manifest)
    result = harness.run("restore.sh", str(harness.repo / "backups" / "b1"), "--yes")
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert phrase in line
    assert "no redis data" not in line and "no MANIFEST" not in line
    assert harness.compose_calls() == []

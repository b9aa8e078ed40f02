"""restore.sh checks a backup before anything is dropped.

A backup that lacks a service the user names, or holds a file that no
longer matches the SHA-256 its MANIFEST records, is refused with one error
line naming the file; Compose is not called and no container is asked to
read anything. The fake engine has no containers, so a check that let the
backup through would end at "... is not running" instead.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from .harness import one_line_error

FILES = ("postgres-transbot.dump", "postgres-langfuse.dump", "redis.rdb")


def write_checked_backup(folder: Path, files=FILES) -> Path:
    """A backup folder as backup.sh writes it: the files and their MANIFEST."""
    folder.mkdir(parents=True)
    lines = ["# TransBot infrastructure backup, made by scripts/backup.sh", "created 2026-01-01T00:00:00Z",
             "project transbot"]
    for name in files:
        data = os.urandom(64)
        (folder / name).write_bytes(data)
        lines.append(f"sha256 {hashlib.sha256(data).hexdigest()} {name}")
    (folder / "MANIFEST").write_text("\n".join(lines) + "\n")
    return folder


def docker_exec_calls(harness) -> list:
    return [call for call in harness.calls() if call.args[:1] == ("exec",)]


def test_a_backup_without_the_named_service_is_refused_naming_what_it_holds(harness):
    harness.write_env()
    backup = write_checked_backup(harness.repo / "backups" / "b1", files=FILES[:2])
    result = harness.run("restore.sh", str(backup), "redis", "--yes")
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert "the backup has no redis data (redis.rdb)" in line, line
    assert "postgres-transbot.dump postgres-langfuse.dump" in line and "nothing was restored" in line
    assert harness.compose_calls() == [] and docker_exec_calls(harness) == []


@pytest.mark.parametrize("damaged", FILES)
def test_a_file_that_does_not_match_its_sha256_is_refused(harness, damaged):
    harness.write_env()
    backup = write_checked_backup(harness.repo / "backups" / "b1")
    with open(backup / damaged, "ab") as handle:
        handle.write(b"x")
    result = harness.run("restore.sh", str(backup), "--yes")
    assert result.returncode == 1, result
    line = one_line_error(result)
    assert f"{damaged} in the backup is corrupt or truncated" in line, line
    assert harness.compose_calls() == [] and docker_exec_calls(harness) == []

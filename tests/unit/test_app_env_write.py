"""app-env.sh --write: the REDIS_URL every client accepts, a symlinked
target that stays a symlink, a file that ends up readable by its owner
alone (it holds passwords), and a write that is a rename of a complete
temporary file beside the real one (the fake engine runs no container:
the ports come from the configuration, the rest from .env.infra)."""

from __future__ import annotations

import os
import stat
import urllib.parse
from pathlib import Path

from .harness import parse_env

BLOCK_START = "# >>> transbot-infra >>>"
# Single-quoted in .env.infra, so it holds no single quote.
HOSTILE_REDIS_PASSWORD = 'r q:@/?#&%=+;"$ü\\x'


def write(harness, target: Path | str, env: dict[str, str] | None = None):
    result = harness.run("app-env.sh", "--write", str(target), env=env)
    assert result.returncode == 0, result
    return result


def test_redis_url_names_the_default_user_and_encodes_the_password(harness, tmp_path):
    harness.write_env({"REDIS_PASSWORD": f"'{HOSTILE_REDIS_PASSWORD}'"})
    target = tmp_path / "app.env"
    write(harness, target)
    url = urllib.parse.urlsplit(parse_env(target.read_text())["REDIS_URL"])
    assert url.scheme == "redis" and url.username == "default", url
    assert urllib.parse.unquote(url.password) == HOSTILE_REDIS_PASSWORD
    assert (url.hostname, url.path) == ("127.0.0.1", "/0")
    # Every reserved character is percent-encoded: nothing but unreserved and %XX.
    assert all(c.isalnum() or c in "-._~%" for c in url.password), url.password


def test_a_symlinked_target_stays_a_symlink_and_its_file_is_updated(harness, tmp_path):
    harness.write_env()
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "transbot.env"
    real.write_text("OPENAI_API_KEY=sk-mine\n")
    real.chmod(0o640)
    project = tmp_path / "transbot"
    project.mkdir()
    link = project / ".env"
    link.symlink_to(os.path.relpath(real, project))
    before = os.readlink(link)

    result = write(harness, link)

    assert link.is_symlink() and os.readlink(link) == before, "the symlink was replaced"
    text = real.read_text()
    assert text.startswith("OPENAI_API_KEY=sk-mine\n") and BLOCK_START in text
    assert stat.S_IMODE(real.stat().st_mode) == 0o600, "the real file is still readable by its group"
    assert f"{link} was readable by others (mode 0640); it is now 0600" in result.stderr, result
    assert sorted(p.name for p in dotfiles.iterdir()) == ["transbot.env"], "a temporary file was left"
    assert sorted(p.name for p in project.iterdir()) == [".env"]


def test_an_existing_file_readable_by_others_is_made_private_saying_so(harness, tmp_path):
    harness.write_env()
    target = tmp_path / "app.env"
    target.write_text("OPENAI_API_KEY=sk-mine\n")
    target.chmod(0o644)
    result = write(harness, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert result.stderr == (f"warning: {target} was readable by others (mode 0644); it is now 0600, "
                             "as it holds passwords\n"), result


def test_a_private_file_is_written_without_a_word_about_its_mode(harness, tmp_path):
    harness.write_env()
    target = tmp_path / "app.env"
    target.write_text("OPENAI_API_KEY=sk-mine\n")
    target.chmod(0o600)
    result = write(harness, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert result.stderr == "", result


def test_a_chain_of_symlinks_is_followed_to_the_real_file(harness, tmp_path):
    harness.write_env()
    real = tmp_path / "real.env"
    real.write_text("KEEP=1\n")
    middle = tmp_path / "middle.env"
    middle.symlink_to(real)
    outer = tmp_path / "outer.env"
    outer.symlink_to(middle)
    write(harness, outer)
    assert outer.is_symlink() and middle.is_symlink()
    assert "KEEP=1" in real.read_text() and "REDIS_URL=redis://default:" in real.read_text()


def test_a_symlink_to_a_file_not_yet_there_creates_it_private(harness, tmp_path):
    harness.write_env()
    real = tmp_path / "later.env"
    link = tmp_path / "link.env"
    link.symlink_to(real)
    write(harness, link)
    assert link.is_symlink() and real.is_file()
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


def test_the_new_contents_are_renamed_over_the_file_from_a_temporary_beside_it(harness, tmp_path):
    """The temporary file is made in the real file's folder (a rename is
    atomic only within one file system) and renamed over it: the real file
    is a new inode, never rewritten in place."""
    harness.write_env()
    real_folder = tmp_path / "real"
    real_folder.mkdir()
    real = real_folder / "app.env"
    real.write_text("A=1\n")
    link = tmp_path / "link.env"
    link.symlink_to(real)
    inode = real.stat().st_ino
    # A mktemp that reports its template, in front of the real one.
    spy_dir = tmp_path / "spy"
    spy_dir.mkdir()
    spy_log = tmp_path / "mktemp.log"
    spy = spy_dir / "mktemp"
    spy.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >>"{spy_log}"\nPATH="${{PATH#*:}}" exec mktemp "$@"\n')
    spy.chmod(0o755)
    path = f"{spy_dir}:{harness.env()['PATH']}"
    write(harness, link, env={"PATH": path})
    templates = spy_log.read_text().split()
    assert templates == [f"{real}.XXXXXX"], templates
    assert real.stat().st_ino != inode, "the file was rewritten in place, not replaced by a rename"
    assert "A=1" in real.read_text()


def test_a_start_marker_without_its_end_leaves_the_file_and_no_temporary(harness, tmp_path):
    harness.write_env()
    target = tmp_path / "app.env"
    original = "X=1\n# >>> transbot-infra >>> old\nDATABASE_URL=stale\n"
    target.write_text(original)
    result = harness.run("app-env.sh", "--write", str(target))
    assert result.returncode == 1, result
    assert "without its end marker" in result.stderr
    assert target.read_text() == original
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("app.env")) == ["app.env"]

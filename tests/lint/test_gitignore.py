"""Secrets stay out of git: every file the scripts or the README create that
holds a secret is git-ignored, and the files a clone needs are not.

A temporary `git init` holds the repository's .gitignore (nothing else);
each file is created there and `git status --porcelain --ignored` must sort
it as ignored (`!!`) or, for the files that belong in git, as untracked
(`??`). The README's own `app-env.sh --write FILE` examples are checked the
same way whenever FILE is inside the repository.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.engine import REPO_ROOT

# Files that hold secrets, as the scripts and the README name them.
SECRET_FILES = {
    ".env.infra": "start.sh / init-env.sh: every password",
    ".env.infra.new": "start.sh's temporary file while it creates .env.infra",
    ".env.infra.Xa3kQ9": "a mktemp temporary beside .env.infra (fill_placeholders)",
    ".env.transbot": "the README's smoke example: app-env.sh --write .env.transbot",
    ".env.transbot.b7RtZ2": "app-env.sh --write's temporary file beside .env.transbot",
    "backups/20261126T171619Z/MANIFEST": "backup.sh",
    "backups/20261126T171619Z/postgres-transbot.dump": "backup.sh: the databases",
    "backups/20261126T171619Z/redis.rdb": "backup.sh: the cache",
    "volumes/postgres/PG_VERSION": "PostgreSQL's data directory",
    "volumes/postgres/global/pg_control": "PostgreSQL's data directory",
    "volumes/redis/appendonlydir/appendonly.aof.1.incr.aof": "Redis' AOF",
    "volumes/redis/dump.rdb": "Redis' snapshot",
}
# Files a clone must have: never ignored.
KEPT_FILES = (".env.infra.example", "volumes/.gitkeep")


def _git(repo: Path, *args: str) -> str:
    completed = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    if shutil.which("git") is None:
        pytest.fail("git is needed to check .gitignore", pytrace=False)
    repo = tmp_path / "clone"
    repo.mkdir()
    _git(repo, "init", "-q")
    shutil.copy2(REPO_ROOT / ".gitignore", repo / ".gitignore")
    return repo


def status_of(repo: Path, files) -> dict[str, str]:
    for name in files:
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("secret\n")
    # -uall lists each file, also those inside ignored folders.
    out = _git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all")
    return {line[3:]: line[:2] for line in out.splitlines()}


def readme_write_targets() -> list[str]:
    """Every FILE of `app-env.sh --write FILE` in the README and the example's
    docstring that lies inside the repository."""
    texts = (REPO_ROOT / "README.md").read_text() + (REPO_ROOT / "examples" / "transbot_smoke.py").read_text()
    targets = set(re.findall(r"app-env\.sh --write (\S+)", texts))
    return sorted(t for t in targets if not t.startswith(("../", "/", "~")) and t != "FILE")


@pytest.mark.parametrize("name", sorted(SECRET_FILES))
def test_a_file_that_holds_secrets_is_ignored(repo, name):
    status = status_of(repo, [name, *KEPT_FILES])
    assert status.get(name) == "!!", f"{name} ({SECRET_FILES[name]}) is not git-ignored: {status}"


def test_the_files_a_clone_needs_are_not_ignored(repo):
    status = status_of(repo, [*SECRET_FILES, *KEPT_FILES])
    for name in KEPT_FILES:
        assert status.get(name) == "??", f"{name} is ignored, a clone would lack it: {status}"
    assert status.get(".gitignore") == "??"


def test_every_env_file_the_readme_writes_in_the_repository_is_ignored(repo):
    targets = readme_write_targets()
    assert ".env.transbot" in targets, f"the README's smoke steps changed: {targets}"
    status = status_of(repo, targets)
    for name in targets:
        assert status.get(name) == "!!", f"the README writes {name} with passwords, and it is not git-ignored"

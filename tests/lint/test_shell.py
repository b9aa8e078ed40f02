"""Every shell file passes shellcheck."""

import shutil
import subprocess

from support.engine import REPO_ROOT
from support.stack import repository_files
from support.engine import unavailable


def shell_files() -> list[str]:
    files = []
    for relative in repository_files():
        path = REPO_ROOT / relative
        if path.is_symlink():
            continue  # scripts/<command>.sh: each a link to scripts/lib/run.sh
        if relative.suffix == ".sh" or relative.as_posix() == ".ci/run":
            files.append(str(relative))
        elif relative.suffix == "" and path.read_bytes()[:40].startswith(b"#!/usr/bin/env bash"):
            files.append(str(relative))
    return sorted(files)


def test_every_shell_file_passes_shellcheck():
    if shutil.which("shellcheck") is None:
        unavailable("shellcheck is not installed")
    files = shell_files()
    assert "scripts/commands/start.sh" in files and "scripts/lib/run.sh" in files
    result = subprocess.run(["shellcheck", "-x", *files], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# May be sourced by the postgres image's entrypoint: `set` options would leak into it.
NO_SET_OPTIONS = {"services/postgres/langfuse-database.sh", "deploy/swarm/postgres-langfuse-database.sh"}
# Sources the user's init scripts, which may read unset variables: no -u,
# like the official entrypoint.
WITHOUT_NOUNSET = {"tests/images/postgres/docker-entrypoint.sh"}


def test_every_script_is_executable_and_strict():
    for relative in shell_files():
        path = REPO_ROOT / relative
        if relative.startswith(("scripts/lib/", "scripts/commands/")) or relative in NO_SET_OPTIONS:
            continue  # sourced, not run
        assert path.stat().st_mode & 0o111, f"{relative} is not executable"
        text = path.read_text()
        if relative in WITHOUT_NOUNSET:
            strict = "set -Eeo pipefail" in text
        elif text.startswith("#!/bin/sh"):
            strict = "set -eu" in text
        else:
            strict = "set -Eeuo pipefail" in text or "lib/all.sh" in text
        assert strict, f"{relative} does not run in strict mode"


def test_every_command_is_a_link_to_the_one_entry_point():
    """scripts/<command>.sh is what users type; scripts/commands/<command>.sh
    is its code. One without the other is a command that cannot run, or
    code no one can reach."""
    scripts = REPO_ROOT / "scripts"
    links = {path.name for path in scripts.glob("*.sh")}
    commands = {path.name for path in (scripts / "commands").glob("*.sh")}
    assert links == commands
    for name in links:
        link = scripts / name
        assert link.is_symlink() and link.readlink().as_posix() == "lib/run.sh", f"scripts/{name}"

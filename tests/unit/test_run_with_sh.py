"""A developer types `sh ./scripts/start.sh`.

Journey: whichever script it is, and whether `sh` is dash (Debian's) or the
system's own, the script says to run it with bash, in one error line, and
exits 1 before anything runs, instead of dying with "[[: not found"
(exit 127). The first lines every script runs (the symlink preamble, then
scripts/lib/all.sh's checks) are POSIX sh up to that point.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from support.engine import REPO_ROOT

SCRIPTS = sorted(path.name for path in (REPO_ROOT / "scripts").glob("*.sh"))


@pytest.mark.parametrize("shell", ["dash", "sh"])
@pytest.mark.parametrize("script", SCRIPTS)
def test_a_script_run_with_sh_says_to_run_it_with_bash(tmp_path, shell, script):
    program = shutil.which(shell)
    assert program, f"{shell} is not installed"
    result = subprocess.run([program, f"./scripts/{script}", "--help"], capture_output=True, text=True,
                            cwd=REPO_ROOT, stdin=subprocess.DEVNULL, timeout=30,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 1, result
    assert result.stdout == "", result
    assert result.stderr == (f"error: run this script with bash (./scripts/{script} or bash scripts/{script}), "
                             "not sh\n"), result


def test_a_symlinked_script_run_with_sh_names_the_script_it_links_to(tmp_path):
    link = tmp_path / "tb-start"
    link.symlink_to(REPO_ROOT / "scripts" / "start.sh")
    result = subprocess.run(["dash", str(link)], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            cwd=tmp_path, timeout=30, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 1, result
    assert "run this script with bash (./scripts/start.sh or bash scripts/start.sh)" in result.stderr, result

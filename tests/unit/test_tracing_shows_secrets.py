"""A developer debugs a script with `bash -x`.

Journey: the trace shows the passwords of .env.infra (the scripts hold
them in variables; keeping every traced line free of them is not
practical). The README says so in its security section, and the script
warns at its start that this trace must not be shared. Without tracing
there is no such warning.
"""

from __future__ import annotations

import subprocess

from support.engine import REPO_ROOT

WARNING = "warning: bash -x shows the passwords of .env.infra in this trace; do not share it"


def test_a_traced_script_shows_the_passwords_as_the_readme_warns_and_says_so(harness, tmp_path):
    harness.write_env()
    password = harness.secrets()["POSTGRES_PASSWORD"]
    traced = subprocess.run(["bash", "-x", str(harness.repo / "scripts" / "app-env.sh"),
                             "--write", str(tmp_path / "app.env")],
                            capture_output=True, timeout=60, env=harness.env(), cwd=harness.workdir,
                            stdin=subprocess.DEVNULL)
    # The trace shows urlencode byte by byte: not all of it is UTF-8.
    trace = traced.stderr.decode(errors="replace")
    assert traced.returncode == 0, trace[-2000:]
    # What the README owns up to: if tracing ever stops showing them, the
    # README's warning (and this test) should go.
    assert password in trace
    lines = trace.splitlines()
    assert WARNING in lines, trace[:2000]
    first_secret = next(number for number, line in enumerate(lines) if password in line)
    assert lines.index(WARNING) < first_secret, "the warning came after the first secret"
    readme = (REPO_ROOT / "README.md").read_text()
    assert "**`bash -x` prints secrets.**" in readme
    assert "never paste such a trace" in readme


def test_an_untraced_script_does_not_warn_about_tracing(harness, tmp_path):
    harness.write_env()
    result = harness.run("app-env.sh", "--write", str(tmp_path / "app.env"))
    assert result.returncode == 0, result
    assert "bash -x" not in result.stderr, result

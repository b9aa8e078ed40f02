"""A developer binds the stack to IPv6 loopback: BIND_ADDRESS=::1.

Journey: every URL the scripts print names the host as a URL must, in
brackets (postgresql://user@[::1]:5432/transbot), so that psql, psycopg,
redis-py and the Langfuse SDK read the port as the port: app-env.sh's
DATABASE_URL, REDIS_URL and LANGFUSE_HOST, and start.sh's summary. The
real clients run against such a stack in tests/e2e/test_ipv6_loopback.py.
"""

from __future__ import annotations

import subprocess
import urllib.parse

import pytest

from support.engine import REPO_ROOT

from .harness import parse_env


@pytest.mark.parametrize("bind_address", ["::1", "[::1]"])
def test_app_env_puts_an_ipv6_address_in_brackets(harness, tmp_path, bind_address):
    harness.write_env({"BIND_ADDRESS": bind_address, "POSTGRES_PORT": "25432", "REDIS_PORT": "26379",
                       "LANGFUSE_PORT": "23000"})
    target = tmp_path / "app.env"
    result = harness.run("app-env.sh", "--write", str(target))
    assert result.returncode == 0, result
    printed = parse_env(target.read_text())
    for key, port in (("DATABASE_URL", 25432), ("REDIS_URL", 26379), ("LANGFUSE_HOST", 23000)):
        url = urllib.parse.urlsplit(printed[key])
        assert (url.hostname, url.port) == ("::1", port), f"{key}={url.scheme}://…@{url.netloc.split('@')[-1]}"
    assert printed["LANGFUSE_HOST"] == "http://[::1]:23000"


def test_app_env_keeps_localhost_for_langfuse_on_ipv4_loopback(harness, tmp_path):
    harness.write_env({"LANGFUSE_PORT": "23000"})
    target = tmp_path / "app.env"
    assert harness.run("app-env.sh", "--write", str(target)).returncode == 0
    printed = parse_env(target.read_text())
    assert printed["LANGFUSE_HOST"] == "http://localhost:23000"
    assert urllib.parse.urlsplit(printed["DATABASE_URL"]).hostname == "127.0.0.1"


@pytest.mark.parametrize(("bind_address", "host"), [("::1", "[::1]"), ("[::1]", "[::1]"),
                                                     ("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1")])
def test_the_start_summary_puts_an_ipv6_address_in_brackets(bind_address, host):
    """print_summary (scripts/lib/lifecycle.sh), the lines start.sh ends with."""
    result = subprocess.run(
        ["bash", "-c", 'source "$REPO/scripts/lib/all.sh"; print_summary "" postgres redis'],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "REPO": str(REPO_ROOT), "NO_COLOR": "1", "BIND_ADDRESS": bind_address,
             "POSTGRES_PORT": "25432", "REDIS_PORT": "26379"})
    assert result.returncode == 0, result.stderr
    assert f"postgresql://transbot_user@{host}:25432/transbot" in result.stdout, result.stdout
    assert f"redis://{host}:26379" in result.stdout, result.stdout

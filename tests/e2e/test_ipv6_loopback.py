"""A developer runs the stack on IPv6 loopback (BIND_ADDRESS=::1 in
.env.infra), on the real engine through the real scripts.

start.sh's summary and app-env.sh's settings name the host in brackets, and
each works with its client from the host: psql with the summary's URL and
with DATABASE_URL, redis-py with REDIS_URL, HTTP with LANGFUSE_HOST.
redis-cli -u is not among them: Debian 12's redis-cli 7.0 splits a URL's
host at its first colon and so reads no IPv6 address, bracketed or not
(later redis-cli versions parse "[host]:port").
"""

from __future__ import annotations

import os
import re
import subprocess
import urllib.request
from pathlib import Path

import redis

from support.engine import unavailable

from .common import script_ok
from .test_real_clients import client_env, host_tool


def _ipv6_loopback() -> None:
    lines = Path("/proc/net/if_inet6").read_text().splitlines() if os.path.exists("/proc/net/if_inet6") else []
    if not any(line.startswith("0" * 31 + "1 ") for line in lines):
        unavailable("this host has no IPv6 loopback (::1) to publish ports on")


def _psql_select_1(url: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", """psql "$URL" -XAtc 'select 1'"""], env=client_env(URL=url, **env),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_the_printed_urls_work_on_ipv6_loopback(make_stack, compose_v2):
    _ipv6_loopback()
    host_tool("psql")
    stack = make_stack(compose_v2)
    stack.extra_env["BIND_ADDRESS"] = "::1"

    started = script_ok(stack, "start.sh")
    printed = script_ok(stack, "app-env.sh").stdout

    summary = re.search(r"postgresql://\S+", started.stdout)
    assert summary and f"@[::1]:{stack.ports['postgres']}/" in summary.group(0), started.stdout
    assert f"redis://[::1]:{stack.ports['redis']}" in started.stdout, started.stdout
    password = stack.env_file()["POSTGRES_PASSWORD"]
    by_summary = _psql_select_1(summary.group(0), PGPASSWORD=password)
    assert (by_summary.returncode, by_summary.stdout) == (0, "1\n"), by_summary.stderr

    settings = dict(line.split("=", 1) for line in printed.splitlines() if "=" in line and not line.startswith("#"))
    by_url = _psql_select_1(settings["DATABASE_URL"])
    assert (by_url.returncode, by_url.stdout) == (0, "1\n"), by_url.stderr
    cache = redis.Redis.from_url(settings["REDIS_URL"], socket_timeout=10)
    try:
        assert cache.ping() is True
    finally:
        cache.close()
    assert settings["LANGFUSE_HOST"] == f"http://[::1]:{stack.ports['langfuse']}"
    with urllib.request.urlopen(settings["LANGFUSE_HOST"] + "/api/public/health", timeout=15) as answer:
        assert answer.status == 200

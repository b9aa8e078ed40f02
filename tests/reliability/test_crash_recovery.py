"""A crashed process never costs an acknowledged write, and the Redis fsync
policy of .env.infra is the one Redis follows.

PostgreSQL is killed with SIGKILL in the middle of a stream of committed
inserts into TransBot's tables; after ./scripts/start.sh every insert that
was acknowledged before the kill is there. Redis is killed the same way in
the middle of a stream of SETs, with AOF `appendfsync everysec` (the
default) and with `appendfsync always` set in .env.infra. The numbers are
measured and reported.

What SIGKILL can and cannot show: killing the process leaves the kernel's
page cache intact, so data Redis has write()n but not yet fsync()ed
survives. The second that everysec risks is only lost when the host itself
crashes or loses power, which a container test cannot cause. So the two
SIGKILL tests cannot tell the policies apart (both lose nothing in
practice); they show that a killed Redis process keeps its acknowledged
writes (everysec within the two seconds Redis may postpone a write while an
fsync is slow). What does tell the policies apart is checked on its own:
the running server's `CONFIG GET appendfsync`, and its fsync calls, counted
with strace on every thread of redis-server while one client sends SETs one
after the other: with `always` at least one per SET, with `everysec` about
one a second.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest
import redis

from support import clients
from support.engine import run, unavailable

from .common import health_check, script_ok, set_env_values

# Bounds of every write stream: it stops by itself.
STREAM_MAX_SECONDS = 30
STREAM_MAX_WRITES = 200_000
# How long the stream runs before the kill, and the writes it must have had.
WRITE_BEFORE_KILL_SECONDS = 2.0
MIN_WRITES_BEFORE_KILL = 50


@pytest.fixture(scope="module")
def stack(module_stack):
    stack = module_stack()
    script_ok(stack, "start.sh")
    return stack


class WriteStream(threading.Thread):
    """Writes one numbered record after the other until the server goes away
    (or the bounds are reached); remembers which writes were acknowledged."""

    def __init__(self, write):
        super().__init__(daemon=True)
        self.write = write
        self.acknowledged: list[int] = []
        self.attempted = 0
        self.error: BaseException | None = None
        self.began = self.ended = self.last_acknowledged = 0.0

    def start(self) -> None:
        self.began = time.monotonic()
        super().start()

    def run(self) -> None:
        deadline = self.began + STREAM_MAX_SECONDS
        try:
            for number in range(STREAM_MAX_WRITES):
                if time.monotonic() > deadline:
                    break
                self.attempted = number + 1
                self.write(number)
                self.acknowledged.append(number)
                self.last_acknowledged = time.monotonic()
        except Exception as error:  # the kill ends the stream
            self.error = error
        finally:
            self.ended = time.monotonic()

    @property
    def rate(self) -> float:
        """Acknowledged writes per second while the server was up."""
        return len(self.acknowledged) / max(self.last_acknowledged - self.began, 1e-3)


def kill_mid_stream(stack, service: str, stream: WriteStream) -> None:
    """Starts STREAM, lets it write, and SIGKILLs SERVICE's container while
    the stream is still writing."""
    stream.start()
    deadline = time.monotonic() + STREAM_MAX_SECONDS
    while (time.monotonic() - stream.began < WRITE_BEFORE_KILL_SECONDS
           or len(stream.acknowledged) < MIN_WRITES_BEFORE_KILL):
        assert stream.is_alive(), f"the write stream stopped before the kill: {stream.error!r}"
        assert time.monotonic() < deadline, "too few writes before the kill"
        time.sleep(0.05)
    killed = run(["docker", "kill", "--signal", "KILL", stack.container(service)], timeout=60)
    assert killed.returncode == 0, killed.stderr
    stream.join(timeout=STREAM_MAX_SECONDS + 10)
    assert not stream.is_alive()
    assert stream.error is not None, "the stream ended without noticing the kill"


def test_postgres_sigkill_loses_no_committed_insert(stack, figures):
    with clients.postgres(stack) as conn:
        clients.add_translation(conn, "crash@example.com", "before the stream")
        user_id = conn.execute("SELECT id FROM transbot.users WHERE external_id = 'crash@example.com'").fetchone()[0]
    conn = clients.postgres(stack)  # autocommit: each insert is its own committed transaction

    def insert(number: int) -> None:
        conn.execute(
            "INSERT INTO transbot.translations (user_id, source_lang, target_lang, source_text, translated_text,"
            " model, input_tokens, output_tokens, cost_usd, latency_ms, status)"
            " VALUES (%s, 'en', 'de', %s, %s, 'gpt-4o-mini', 12, 9, 0.0001, 420, 'succeeded')",
            (user_id, f"crash-{number}", f"[de] crash-{number}"))

    stream = WriteStream(insert)
    try:
        kill_mid_stream(stack, "postgres", stream)
    finally:
        conn.close()
    assert isinstance(stream.error, psycopg.Error), repr(stream.error)

    started = script_ok(stack, "start.sh")
    assert "postgres is healthy" in started.stdout
    with clients.postgres(stack) as conn:
        found = {int(text.removeprefix("crash-")) for (text,) in conn.execute(
            "SELECT source_text FROM transbot.translations WHERE source_text LIKE 'crash-%'")}
        assert conn.execute("SELECT count(*) FROM transbot.translations"
                            " WHERE source_text = 'before the stream'").fetchone()[0] == 1
    acknowledged = set(stream.acknowledged)
    lost = sorted(acknowledged - found)
    figures.record("postgres_sigkill", inserts_acknowledged=len(acknowledged), inserts_found=len(found & acknowledged),
                   inserts_lost=len(lost), in_flight_at_kill=stream.attempted - len(acknowledged),
                   in_flight_found=len(found - acknowledged))
    print(f"\npostgres SIGKILL: {len(acknowledged)} inserts acknowledged, {len(found & acknowledged)} found, "
          f"{len(lost)} lost; {stream.attempted - len(acknowledged)} in flight, {len(found - acknowledged)} of them kept")
    assert not lost, f"{len(lost)} acknowledged inserts are gone after the crash, e.g. {lost[:10]}"
    assert found <= set(range(stream.attempted)), "rows appeared that were never written"
    assert health_check(stack).returncode == 0


def _redis_crash(stack, figures, policy: str) -> tuple[int, int, float]:
    """Streams SETs into Redis, SIGKILLs it, starts it with start.sh and
    returns (acknowledged, lost, writes per second)."""
    client = clients.redis_client(stack)
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": policy}, "the policy of .env.infra is not in effect"
    prefix = f"crash:{policy}:"

    stream = WriteStream(lambda number: client.set(f"{prefix}{number}", number))
    kill_mid_stream(stack, "redis", stream)
    assert isinstance(stream.error, redis.RedisError), repr(stream.error)
    client.close()

    started = script_ok(stack, "start.sh", "redis")
    assert "redis is healthy" in started.stdout
    client = clients.redis_client(stack)
    acknowledged = stream.acknowledged
    found: set[int] = set()
    for offset in range(0, stream.attempted, 1000):
        numbers = list(range(offset, min(offset + 1000, stream.attempted)))
        values = client.mget([f"{prefix}{number}" for number in numbers])
        found.update(number for number, value in zip(numbers, values) if value is not None)
    client.close()
    lost = sorted(set(acknowledged) - found)
    figures.record(f"redis_sigkill_{policy}", writes_acknowledged=len(acknowledged),
                   writes_found=len(found & set(acknowledged)), writes_lost=len(lost),
                   writes_per_second=round(stream.rate), in_flight_at_kill=stream.attempted - len(acknowledged))
    print(f"\nredis SIGKILL with appendfsync {policy}: {len(acknowledged)} SETs acknowledged, "
          f"{len(acknowledged) - len(lost)} found, {len(lost)} lost ({stream.rate:.0f} writes/s)")
    assert found <= set(range(stream.attempted)), "keys appeared that were never written"
    return len(acknowledged), len(lost), stream.rate


def _use_policy(stack, policy: str) -> None:
    """Sets REDIS_APPENDFSYNC in .env.infra and restarts Redis with it."""
    set_env_values(stack, {"REDIS_APPENDFSYNC": policy})
    restarted = script_ok(stack, "restart.sh", "redis")
    assert "redis is healthy" in restarted.stdout


def test_redis_process_killed_with_everysec_loses_at_most_two_seconds_of_sets(stack, figures):
    assert stack.env_file().get("REDIS_APPENDFSYNC") == "everysec", "the default must be everysec"
    acknowledged, lost, rate = _redis_crash(stack, figures, "everysec")
    # Redis may postpone a write by up to 2 s while an fsync is slow, and
    # replies meanwhile; only those writes can die with the process.
    assert lost <= max(2 * rate, 1), f"{lost} of {acknowledged} acknowledged writes lost ({rate:.0f}/s)"
    assert health_check(stack).returncode == 0


def test_redis_process_killed_with_always_loses_no_acknowledged_set(stack, figures):
    _use_policy(stack, "always")
    acknowledged, lost, _ = _redis_crash(stack, figures, "always")
    assert lost == 0, f"{lost} of {acknowledged} acknowledged writes lost with appendfsync always"
    assert health_check(stack).returncode == 0


# --- What tells the policies apart: when Redis fsyncs its AOF ------------------------

FSYNC_SAMPLE_SETS = 400


def _tracer_prefix() -> list[str]:
    """How to run strace on redis-server, which runs as another user: as
    root, or through sudo without a password (as on GitHub's runners)."""
    if shutil.which("strace") is None:
        unavailable("strace is not installed (apt-get install strace); it counts Redis' fsync calls")
    if os.geteuid() == 0:
        return []
    if subprocess.run(["sudo", "-n", "true"], capture_output=True, timeout=30).returncode == 0:
        return ["sudo", "-n"]
    unavailable("counting Redis' fsync calls needs root or passwordless sudo (strace -p on another user's process)")


def _fsyncs_during_sets(stack, count: int, trace_file: Path) -> tuple[int, float]:
    """The fsync and fdatasync calls of every thread of redis-server while
    one client sends COUNT SETs one after the other, and how long they took."""
    pid = run(["docker", "inspect", "--format", "{{.State.Pid}}", stack.container("redis")]).stdout.strip()
    assert pid.isdigit() and pid != "0", f"redis is not running (pid {pid!r})"
    tracer = subprocess.Popen([*_tracer_prefix(), "strace", "-f", "-qq", "-c", "-e", "trace=fsync,fdatasync",
                               "-o", str(trace_file), "-p", pid], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        status = Path(f"/proc/{pid}/status")
        deadline = time.monotonic() + 30
        while "TracerPid:\t0\n" in status.read_text():
            assert tracer.poll() is None, f"strace could not attach: {tracer.stderr.read().decode()}"
            assert time.monotonic() < deadline, "strace did not attach within 30 s"
            time.sleep(0.05)
        client = clients.redis_client(stack)
        began = time.monotonic()
        for number in range(count):
            client.set(f"fsync:{number}", number)
        seconds = time.monotonic() - began
        client.close()
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
    calls = 0
    for line in trace_file.read_text().splitlines():
        fields = line.split()
        if fields and fields[-1] in ("fsync", "fdatasync"):
            calls += int(fields[3])
    return calls, seconds


@pytest.mark.needs_root("strace -p on redis-server, another user's process")
@pytest.mark.parametrize("policy", ["everysec", "always"])
def test_redis_fsyncs_its_aof_as_the_policy_of_env_infra_says(stack, figures, tmp_path, policy):
    _use_policy(stack, policy)
    assert clients.redis_client(stack).config_get("appendfsync") == {"appendfsync": policy}

    fsyncs, seconds = _fsyncs_during_sets(stack, FSYNC_SAMPLE_SETS, tmp_path / "strace.txt")

    figures.record(f"redis_fsync_{policy}", sets=FSYNC_SAMPLE_SETS, fsync_calls=fsyncs, seconds=round(seconds, 2))
    print(f"\nredis appendfsync {policy}: {fsyncs} fsync calls for {FSYNC_SAMPLE_SETS} SETs in {seconds:.2f}s")
    if policy == "always":
        assert fsyncs >= FSYNC_SAMPLE_SETS, f"only {fsyncs} fsyncs for {FSYNC_SAMPLE_SETS} SETs with always"
    else:
        # One a second from the background thread, and one more at each end.
        assert fsyncs <= seconds + 2, f"{fsyncs} fsyncs in {seconds:.2f}s with everysec"


def test_an_invalid_fsync_policy_is_refused_naming_it(stack):
    before = (stack.root / ".env.infra").read_bytes()
    policy = clients.redis_client(stack).config_get("appendfsync")
    set_env_values(stack, {"REDIS_APPENDFSYNC": "sometimes"})
    try:
        result = stack.script("restart.sh", "redis", timeout=120)
        assert result.returncode == 1, str(result)
        assert "REDIS_APPENDFSYNC must be everysec, always or no" in result.stderr
        assert clients.redis_client(stack).config_get("appendfsync") == policy
    finally:
        (stack.root / ".env.infra").write_bytes(before)

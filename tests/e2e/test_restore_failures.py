"""What restore.sh promises when a backup cannot be restored, and what a
restore does to Langfuse's data, on the real engine through the real scripts.

README: "restore.sh refuses a folder that is not a backup, lacks the service
you name, or has a corrupt or truncated file, before anything is dropped.
Each database is restored in a single transaction: if it fails, that database
is left as it was. Redis' previous data is put back if its restore fails."
restore.sh --help adds: the services that depend on postgres (Langfuse) "are
stopped while its databases are restored ... and started again afterwards,
also when the restore fails"; "Redis is stopped, its data replaced, and
started again; its previous data is put back if that fails."

The failing backups are honest ones, each sound as far as the MANIFEST and
the archive checks go, failing only inside the restore:
- a Redis snapshot taken on a server configured with 32 databases, holding a
  key in database 20: redis-check-rdb accepts it, a default Redis (16
  databases) refuses to load it;
- a database dump holding a table owned by a role that no longer exists:
  pg_restore --list reads it, and the restore fails at "ALTER TABLE ...
  OWNER TO", after it has dropped and re-created the other tables.
"""

from __future__ import annotations

import subprocess
import time

import psycopg

from support import clients
from support.stack import Stack

from .common import (
    add_trace,
    backup_with,
    containers,
    folder_files,
    only_backup,
    script_ok,
    trace_status,
)


def _psql(stack: Stack, sql: str, database: str | None = None) -> None:
    """SQL as POSTGRES_USER, the stack's superuser, over the container's socket."""
    env = stack.env_file()
    done = stack.docker_exec("postgres", "psql", "-v", "ON_ERROR_STOP=1", "-XAtq", "-U", env["POSTGRES_USER"],
                             "-d", database or env["POSTGRES_DB"], "-c", sql)
    assert done.returncode == 0, done.stderr


def _with_table_of_a_vanished_role(stack: Stack, database: str, make_backup) -> None:
    """Makes a backup (MAKE_BACKUP) while DATABASE holds a table owned by a
    role "ghost", then drops both: restoring that backup now fails half-way."""
    _psql(stack, "CREATE ROLE ghost", database="postgres")
    _psql(stack, "CREATE TABLE ghost_notes (note text); ALTER TABLE ghost_notes OWNER TO ghost", database=database)
    make_backup()
    _psql(stack, "DROP TABLE ghost_notes", database=database)
    _psql(stack, "DROP ROLE ghost", database="postgres")


def _snapshot_from_a_redis_with_32_databases(stack: Stack) -> bytes:
    """An RDB file with one key in database 20, made by a throw-away server
    of the stack's Redis image (labelled with the project, so a killed run's
    leftover is removed with the stack)."""
    make = ("redis-server --port 0 --unixsocket /tmp/r.sock --dir /tmp --databases 32 --save '' --daemonize yes"
            " >/dev/null && until redis-cli -s /tmp/r.sock ping >/dev/null 2>&1; do sleep 0.1; done"
            " && redis-cli -s /tmp/r.sock -n 20 set cache:from-elsewhere 1 >/dev/null"
            " && redis-cli -s /tmp/r.sock save >/dev/null && cat /tmp/dump.rdb")
    made = subprocess.run(["docker", "run", "--rm", "--label", f"com.docker.compose.project={stack.project}",
                           "--entrypoint", "sh", stack.images["redis"], "-c", make],
                          capture_output=True, timeout=120)
    assert made.returncode == 0 and made.stdout.startswith(b"REDIS"), made.stderr.decode(errors="replace")
    return made.stdout


def test_restore_refuses_a_backup_without_the_named_service_and_changes_nothing(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    clients.write_row_and_key(stack, "before@example.com", "before the backup", "cache:before", "1")
    script_ok(stack, "backup.sh", "postgres")
    backup = only_backup(stack)
    clients.write_row_and_key(stack, "after@example.com", "after the backup", "cache:after", "2")
    files_before, containers_before = folder_files(backup), containers(stack)

    result = stack.script("restore.sh", str(backup), "redis", "--yes")

    assert result.returncode == 1, result
    assert "the backup has no redis data (redis.rdb)" in result.stderr, result
    assert "postgres-transbot.dump" in result.stderr, "it should say what the backup holds"
    assert "internal error" not in result.output, result
    assert containers(stack) == containers_before, "a refused restore stopped or restarted something"
    with clients.postgres(stack) as conn:
        assert clients.translation_texts(conn) == ["before the backup", "after the backup"]
    cache = clients.redis_client(stack)
    assert (cache.get("cache:before"), cache.get("cache:after")) == ("1", "2")
    assert folder_files(backup) == files_before


def test_a_failed_redis_restore_puts_the_previous_data_back(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    script_ok(stack, "backup.sh", "redis")
    unloadable_rdb = _snapshot_from_a_redis_with_32_databases(stack)
    unloadable = backup_with(stack, only_backup(stack), "from-a-redis-with-32-databases",
                             {"redis.rdb": unloadable_rdb})
    cache = clients.redis_client(stack)
    cache.set("cache:current", "kept")
    cache.hset("session:current", mapping={"lang": "de", "user": "7"})
    keys_before = sorted(cache.keys("*"))
    cache.close()

    result = stack.script("restore.sh", str(unloadable), "redis", "--yes")

    assert result.returncode == 1, result
    assert "Restoring redis..." in result.stdout, f"the snapshot was refused before the restore began:\n{result}"
    assert "restoring redis failed (see above); its previous data was kept" in result.stderr, result
    assert "internal error" not in result.output, result
    assert stack.script("health-check.sh", "redis", "--wait", "--timeout", "60").returncode == 0, \
        "Redis was not started again"
    cache = clients.redis_client(stack)
    assert sorted(cache.keys("*")) == keys_before
    assert cache.get("cache:current") == "kept"
    assert cache.hgetall("session:current") == {"lang": "de", "user": "7"}
    data = stack.root / "volumes" / "redis"
    assert not (data / ".before-restore").exists(), "the failed restore left the old data aside"
    # Redis writes dump.rdb when it stops; the unloadable one must not stay.
    # Read through the container: the file is Redis' own, mode 0600, and the
    # test may run as a user who is not root.
    current = subprocess.run(["docker", "exec", stack.container("redis"), "sh", "-c",
                              "cat /data/dump.rdb 2>/dev/null || true"], capture_output=True, timeout=30, check=True)
    assert current.stdout != unloadable_rdb


def test_a_failed_database_restore_leaves_that_database_as_it_was(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    with clients.postgres(stack) as conn:
        clients.add_translation(conn, "before@example.com", "before the backup")
    _with_table_of_a_vanished_role(stack, stack.env_file()["POSTGRES_DB"],
                                   lambda: script_ok(stack, "backup.sh", "postgres"))
    with clients.postgres(stack) as conn:
        conn.execute("DELETE FROM transbot.translations")
        clients.add_translation(conn, "after@example.com", "after the backup")
    langfuse_before = containers(stack)["langfuse"]

    result = stack.script("restore.sh", str(only_backup(stack)), "postgres", "--yes")

    assert result.returncode == 1, result
    assert 'role "ghost" does not exist' in result.output, f"the restore failed for another reason:\n{result}"
    assert "restoring postgres-transbot.dump failed (see above); the transbot database was left as it was" in result.stderr
    with clients.postgres(stack) as conn:
        assert clients.translation_texts(conn) == ["after the backup"]
        assert conn.execute("SELECT count(*) FROM transbot.users").fetchone()[0] == 2
        assert conn.execute("SELECT to_regclass('ghost_notes')").fetchone()[0] is None
    assert containers(stack)["langfuse"][0] == langfuse_before[0], "Langfuse's container was replaced"
    assert stack.script("health-check.sh", "--wait", "--timeout", "60").returncode == 0, \
        "Langfuse, stopped around the restore, was not started again"


def test_restore_brings_langfuse_back_to_the_traces_of_the_backup(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    before = add_trace(stack, "before the backup")
    script_ok(stack, "backup.sh", "postgres")
    after = add_trace(stack, "after the backup")

    result = stack.script("restore.sh", str(only_backup(stack)), "postgres", "--yes")

    assert result.returncode == 0, result
    assert "langfuse is healthy" in result.stdout, result
    assert trace_status(stack, before) == 200, "the trace from before the backup is missing"
    assert trace_status(stack, after) == 404, "the trace made after the backup survived the restore"
    assert stack.script("health-check.sh").returncode == 0


def _fail_the_langfuse_database_restore(stack: Stack) -> tuple[str, str, object]:
    """A backup whose Langfuse dump fails half-way, traces from before and
    after it, and the result of restoring it."""
    script_ok(stack, "start.sh")
    before = add_trace(stack, "before the backup")
    _with_table_of_a_vanished_role(stack, "langfuse", lambda: script_ok(stack, "backup.sh", "postgres"))
    after = add_trace(stack, "after the backup")
    result = stack.script("restore.sh", str(only_backup(stack)), "postgres", "--yes")
    assert result.returncode == 1, result
    assert 'role "ghost" does not exist' in result.output, f"the restore failed for another reason:\n{result}"
    assert "restoring postgres-langfuse.dump failed (see above); the langfuse database was left as it was" in result.stderr
    return before, after, result


def test_a_failed_langfuse_database_restore_leaves_its_data_as_it_was(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    _fail_the_langfuse_database_restore(stack)
    env = stack.env_file()
    with psycopg.connect(host="127.0.0.1", port=stack.ports["postgres"], user="langfuse",
                         password=env["LANGFUSE_DB_PASSWORD"], dbname="langfuse", connect_timeout=5) as conn:
        names = sorted(row[0] for row in conn.execute("SELECT name FROM traces"))
        ghost = conn.execute("SELECT to_regclass('ghost_notes')").fetchone()[0]
    assert names == ["after the backup", "before the backup"]
    assert ghost is None


def test_a_failed_langfuse_database_restore_starts_langfuse_again(make_stack, compose_v2):
    """restore.sh --help: the services that depend on postgres are stopped
    while its databases are restored "and started again afterwards, also
    when the restore fails". The message says the Langfuse database "was left
    as it was", so Langfuse must be running on it again."""
    stack = make_stack(compose_v2)
    before, after, _ = _fail_the_langfuse_database_restore(stack)
    waited = stack.script("health-check.sh", "langfuse", "--wait", "--timeout", "60")
    assert waited.returncode == 0, f"restore.sh left Langfuse stopped after the failed restore:\n{waited}"
    assert (trace_status(stack, before), trace_status(stack, after)) == (200, 200)


def test_a_redis_snapshot_that_cannot_load_is_refused_at_once_naming_why(make_stack, compose_v2):
    """A snapshot Redis refuses to load fails the restore the moment the
    server exits, and the output says why (here: it needs more databases
    than the 16 Redis is configured with), not a timeout a minute later."""
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh", "redis")
    script_ok(stack, "backup.sh", "redis")
    unloadable = backup_with(stack, only_backup(stack), "from-a-redis-with-32-databases",
                             {"redis.rdb": _snapshot_from_a_redis_with_32_databases(stack)})

    began = time.monotonic()
    result = stack.script("restore.sh", str(unloadable), "redis", "--yes")
    seconds = time.monotonic() - began

    assert result.returncode == 1, result
    assert "databases" in result.stderr, f"the reason Redis refused the snapshot is not shown:\n{result}"
    assert "timed out" not in result.stderr, result
    assert seconds < 30, f"restore.sh took {seconds:.0f}s to notice that Redis refused the snapshot"

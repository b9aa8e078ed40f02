"""A team moves its PostgreSQL 15 data to PostgreSQL 17 before 15's end of
life, on the real engine through the real scripts.

Journey: the stack runs on POSTGRES_IMAGE (the 15 stand-in) with
translations and a Langfuse trace. Setting POSTGRES_IMAGE to 17 by hand is
refused by start.sh, nothing changed. `upgrade-postgres.sh IMAGE --yes`
backs up, moves the old folder aside (kept), initialises 17, restores both
databases, verifies them, writes POSTGRES_IMAGE and starts the stack: the
counts match, Langfuse answers. A restore that fails (a table owned by a
role the new server does not have: per-database dumps carry no roles)
leaves the old stack as it was and running.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from support.engine import STANDIN_POSTGRES_17, as_from_a_prompt, file_text, finish, run
from support.stack import Stack

from .common import add_trace, containers, script_ok, set_env_value, trace_status


def _stack_on_the_image_setting(make_stack, compose_v2) -> Stack:
    """A started stack whose postgres image comes from .env.infra's
    POSTGRES_IMAGE, as a user's does (the harness's override file would
    otherwise pin it)."""
    stack = make_stack(compose_v2)
    lines = ["services:"]
    for service in ("langfuse", "redis"):
        lines += [f"  {service}:", f"    image: {stack.images[service]}"]
    (stack.root / "docker-compose.override.yml").write_text("\n".join(lines) + "\n")
    script_ok(stack, "init-env.sh")
    set_env_value(stack, "POSTGRES_IMAGE", stack.images["postgres"])
    script_ok(stack, "start.sh")
    return stack


def _sql(stack: Stack, sql: str, database: str | None = None) -> str:
    env = stack.env_file()
    done = stack.docker_exec("postgres", "psql", "-v", "ON_ERROR_STOP=1", "-XAtq", "-U", env["POSTGRES_USER"],
                             "-d", database or env["POSTGRES_DB"], "-c", sql)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _add_translations(stack: Stack, count: int) -> None:
    _sql(stack, "INSERT INTO transbot.users (external_id) VALUES ('upgrade@example.com');"
                f"INSERT INTO transbot.translations (user_id, source_text, target_lang, model) "
                f"SELECT id, 'text ' || n, 'ko', 'm' FROM transbot.users, generate_series(1, {count}) n")


def _server_major(stack: Stack) -> str:
    return _sql(stack, "SHOW server_version_num")[:2]


def _kept_folders(stack: Stack) -> list[str]:
    return sorted(path.name for path in (stack.root / "volumes").iterdir() if path.name.startswith("postgres."))


def _files(folder: Path) -> dict[str, str]:
    """Every file under FOLDER with its SHA-256, read by a throw-away
    container as root: the data belongs to the servers' users (mode 0700,
    0600), which a non-root test user may not read."""
    listed = run(["docker", "run", "--rm", "--user", "0", "--entrypoint", "sh", "-v", f"{folder}:/files:ro",
                  STANDIN_POSTGRES_17, "-c", "cd /files && find . -type f -exec sha256sum {} +"],
                 timeout=120, check=True)
    return {name: digest for digest, name in (line.split(None, 1) for line in listed.stdout.splitlines())}


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _assert_the_old_stack_runs_as_it_was(stack: Stack, env_before: bytes, translations: str) -> None:
    """What every failed or interrupted upgrade must leave: the same
    .env.infra, no kept folder, the 15 data folder in place and served, every
    row there, every container running and the stack healthy."""
    assert (stack.root / ".env.infra").read_bytes() == env_before
    assert _kept_folders(stack) == []
    assert file_text(stack.root / "volumes" / "postgres" / "PG_VERSION", STANDIN_POSTGRES_17).strip() == "15"
    assert _server_major(stack) == "15"
    assert _sql(stack, "SELECT count(*) FROM transbot.translations") == translations
    assert {state[3] for state in containers(stack).values()} == {"running"}
    script_ok(stack, "health-check.sh")


def test_upgrade_from_15_to_17_carries_every_row_and_keeps_the_old_folder(make_stack, compose_v2):
    stack = _stack_on_the_image_setting(make_stack, compose_v2)
    _add_translations(stack, 500)
    trace = add_trace(stack, "before the upgrade")
    migrations = _sql(stack, 'SELECT count(*) FROM "_prisma_migrations"', database="langfuse")

    result = script_ok(stack, "upgrade-postgres.sh", STANDIN_POSTGRES_17, "--yes", timeout=900)

    assert _server_major(stack) == "17"
    assert stack.env_file()["POSTGRES_IMAGE"] == STANDIN_POSTGRES_17
    assert (stack.root / ".env.infra").stat().st_mode & 0o777 == 0o600
    assert _sql(stack, "SELECT count(*) FROM transbot.translations") == "500"
    assert _sql(stack, 'SELECT count(*) FROM "_prisma_migrations"', database="langfuse") == migrations
    assert trace_status(stack, trace) == 200
    kept = _kept_folders(stack)
    assert len(kept) == 1 and kept[0].startswith("postgres.15-"), kept
    assert file_text(stack.root / "volumes" / kept[0] / "PG_VERSION", STANDIN_POSTGRES_17).strip() == "15"
    assert "upgraded to PostgreSQL 17" in result.stdout
    script_ok(stack, "health-check.sh")


def test_a_failed_restore_leaves_the_old_stack_as_it_was_and_running(make_stack, compose_v2):
    stack = _stack_on_the_image_setting(make_stack, compose_v2)
    _add_translations(stack, 50)
    # A role the new server will not have: its table cannot be restored.
    _sql(stack, "CREATE ROLE reporter", database="postgres")
    _sql(stack, "CREATE TABLE transbot.report (n int); ALTER TABLE transbot.report OWNER TO reporter")
    env_before = (stack.root / ".env.infra").read_bytes()
    script_ok(stack, "stop.sh")
    data_before = _files(stack.root / "volumes" / "postgres")
    script_ok(stack, "start.sh")

    result = stack.script("upgrade-postgres.sh", STANDIN_POSTGRES_17, "--yes", timeout=900)

    assert result.returncode == 1, result
    assert "upgrade failed: volumes/postgres and POSTGRES_IMAGE" in result.stderr, result
    assert "the old stack runs again" in result.stderr, result
    _assert_the_old_stack_runs_as_it_was(stack, env_before, translations="50")
    script_ok(stack, "stop.sh")
    after = _files(stack.root / "volumes" / "postgres")
    # The server rewrites its own state files on every start and stop;
    # the data (the relation files) is what must be the old one.
    assert set(after) >= {name for name in data_before
                          if name.startswith("base/") and not name.endswith("pg_internal.init")}
    assert file_text(stack.root / "volumes" / "postgres" / "PG_VERSION", STANDIN_POSTGRES_17).strip() == "15"


def test_a_new_major_set_by_hand_is_refused_with_nothing_changed(make_stack, compose_v2):
    stack = _stack_on_the_image_setting(make_stack, compose_v2)
    before = containers(stack)
    set_env_value(stack, "POSTGRES_IMAGE", STANDIN_POSTGRES_17)
    env_before = (stack.root / ".env.infra").read_bytes()
    volumes_before = sorted(path.name for path in (stack.root / "volumes").iterdir())

    result = stack.script("start.sh")

    assert result.returncode == 1, result
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result
    assert "PostgreSQL 15" in errors[0] and "PostgreSQL 17" in errors[0], errors
    assert f"./scripts/upgrade-postgres.sh {STANDIN_POSTGRES_17}" in errors[0], errors
    assert containers(stack) == before
    assert (stack.root / ".env.infra").read_bytes() == env_before
    assert sorted(path.name for path in (stack.root / "volumes").iterdir()) == volumes_before
    assert _server_major(stack) == "15"




def _upgrade_in_background(stack: Stack, *args: str) -> subprocess.Popen:
    """upgrade-postgres.sh as typed at a prompt: SIGINT at its default, its
    own process group (a terminal's foreground job)."""
    return subprocess.Popen([str(stack.root / "scripts" / "upgrade-postgres.sh"), *args], env=stack.env(),
                            cwd=stack.root.parent, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=as_from_a_prompt)


def _wait_for_a_kept_folder(stack: Stack, process: subprocess.Popen, timeout: float = 600) -> None:
    """Returns once the upgrade has moved the old folder aside."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if _kept_folders(stack):
            return
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError(f"the upgrade never moved volumes/postgres aside:\n{process.communicate()}")


def test_ctrl_c_once_the_old_folder_is_aside_puts_the_old_stack_back_and_says_so(make_stack, compose_v2):
    stack = _stack_on_the_image_setting(make_stack, compose_v2)
    _add_translations(stack, 50)
    env_before = (stack.root / ".env.infra").read_bytes()
    process = _upgrade_in_background(stack, STANDIN_POSTGRES_17, "--yes")
    _wait_for_a_kept_folder(stack, process)

    # Ctrl-C reaches the whole foreground process group, as in a terminal.
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = finish(process, 600)

    assert process.returncode == 130, (stdout, stderr)
    (line,) = _error_lines(stderr)
    assert line.startswith("error: interrupted") and "the old stack runs again" in line, stderr
    _assert_the_old_stack_runs_as_it_was(stack, env_before, translations="50")


def test_a_new_server_that_never_starts_leaves_the_old_stack_as_it_was_and_running(make_stack, compose_v2):
    stack = _stack_on_the_image_setting(make_stack, compose_v2)
    # initdb of the new, empty folder fails (a locale the image lacks); the
    # old folder, already initialised, never reads the setting.
    override = stack.root / "docker-compose.override.yml"
    override.write_text(override.read_text() + "  postgres:\n    environment:\n"
                        "      POSTGRES_INITDB_ARGS: --locale=xx_XX.UTF-8\n")
    script_ok(stack, "start.sh")
    _add_translations(stack, 50)
    env_before = (stack.root / ".env.infra").read_bytes()

    result = stack.script("upgrade-postgres.sh", STANDIN_POSTGRES_17, "--yes", timeout=900)

    assert result.returncode == 1, result
    assert "error: the new PostgreSQL 17 server did not become healthy" in result.stderr, result
    assert _error_lines(result.stderr)[-1] == (
        f"error: upgrade failed: volumes/postgres and POSTGRES_IMAGE ({stack.images['postgres']}) are as they "
        "were, and the old stack runs again"), result
    _assert_the_old_stack_runs_as_it_was(stack, env_before, translations="50")


def test_revert_after_an_upgrade_puts_the_15_folder_and_image_back_and_keeps_the_17_one(make_stack, compose_v2):
    stack = _stack_on_the_image_setting(make_stack, compose_v2)
    _add_translations(stack, 50)
    script_ok(stack, "upgrade-postgres.sh", STANDIN_POSTGRES_17, "--yes", timeout=900)
    # A write on 17 after the upgrade: not carried back, kept in the 17 folder.
    _sql(stack, "INSERT INTO transbot.translations (user_id, source_text, target_lang, model) "
                "SELECT id, 'on 17', 'ko', 'm' FROM transbot.users")

    result = script_ok(stack, "upgrade-postgres.sh", "--revert", "--yes", timeout=900)

    assert _server_major(stack) == "15"
    assert stack.env_file()["POSTGRES_IMAGE"] == stack.images["postgres"]
    assert _sql(stack, "SELECT count(*) FROM transbot.translations") == "50"
    (kept,) = _kept_folders(stack)
    assert kept.startswith("postgres.17-"), kept
    assert file_text(stack.root / "volumes" / kept / "PG_VERSION", STANDIN_POSTGRES_17).strip() == "17"
    assert f"the newer data is kept in volumes/{kept}" in result.stdout, result
    script_ok(stack, "health-check.sh")


def test_discard_old_deletes_only_the_kept_folder_and_only_when_confirmed(make_stack, compose_v2):
    stack = _stack_on_the_image_setting(make_stack, compose_v2)
    script_ok(stack, "upgrade-postgres.sh", STANDIN_POSTGRES_17, "--yes", timeout=900)
    script_ok(stack, "stop.sh")
    (kept,) = _kept_folders(stack)
    volumes = stack.root / "volumes"
    before = {name: _files(volumes / name) for name in ("postgres", "redis")}
    env_before = (stack.root / ".env.infra").read_bytes()
    backups_before = sorted(path.name for path in (stack.root / "backups").iterdir())

    # No terminal to ask on and no --yes: refused, nothing deleted.
    refused = stack.script("upgrade-postgres.sh", "--discard-old")
    assert refused.returncode == 2, refused
    assert len(_error_lines(refused.stderr)) == 1, refused
    assert _kept_folders(stack) == [kept]

    result = script_ok(stack, "upgrade-postgres.sh", "--discard-old", "--yes")

    assert _kept_folders(stack) == []
    assert f"deleted volumes/{kept}" in result.stdout, result
    assert {name: _files(volumes / name) for name in ("postgres", "redis")} == before
    assert (stack.root / ".env.infra").read_bytes() == env_before
    assert sorted(path.name for path in (stack.root / "backups").iterdir()) == backups_before
    script_ok(stack, "start.sh")
    assert _server_major(stack) == "17"


def test_too_little_free_disk_space_is_refused_with_nothing_changed(make_stack, compose_v2, tmp_path):
    stack = _stack_on_the_image_setting(make_stack, compose_v2)
    # A disk with 3 MiB free: df as POSIX prints it (-P, 1 KiB blocks).
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "df").write_text("#!/bin/sh\nprintf 'Filesystem 1024-blocks Used Available Capacity Mounted on\\n"
                             "/dev/full 1000000 996928 3072 100%% /\\n'\n")
    (stub / "df").chmod(0o755)
    before = containers(stack)
    env_before = (stack.root / ".env.infra").read_bytes()
    volumes_before = sorted(path.name for path in (stack.root / "volumes").iterdir())
    backups = stack.root / "backups"
    backups_before = sorted(path.name for path in backups.iterdir()) if backups.exists() else []

    result = stack.script("upgrade-postgres.sh", STANDIN_POSTGRES_17, "--yes",
                          env=stack.env(PATH=f"{stub}{os.pathsep}{os.environ['PATH']}"))

    assert result.returncode == 1, result
    (line,) = _error_lines(result.stderr)
    assert re.fullmatch(r"error: not enough free disk space: the upgrade needs [1-9]\d* MiB \(.*\) and 3 MiB are "
                        r"free; nothing was changed", line), line
    assert containers(stack) == before
    assert (stack.root / ".env.infra").read_bytes() == env_before
    assert sorted(path.name for path in (stack.root / "volumes").iterdir()) == volumes_before
    assert (sorted(path.name for path in backups.iterdir()) if backups.exists() else []) == backups_before
    assert _server_major(stack) == "15"

"""Langfuse's image as the stack runs it: a DATABASE_URL Prisma would refuse
is refused, and headless initialisation creates the admin login from the
compose file's LANGFUSE_INIT_* variables.

Langfuse runs with the compose file's environment, in the network namespace
of a PostgreSQL container configured from the compose file as well (so its
DATABASE_URL points at 127.0.0.1 instead of the service name). The checks
read Langfuse's own tables (`users`, `organization_memberships`), which the
stand-in and the real image name alike.
"""

from __future__ import annotations

import itertools
import os
import time

import pytest

from support.engine import PROJECT_PREFIX

from .servers import LIVE, Container, compose_service, docker, interpolate, start_postgres

LANGFUSE_DB_PASSWORD = "langfuse-db-pw-4c1d"
VALUES = {
    "LANGFUSE_DB_PASSWORD": LANGFUSE_DB_PASSWORD,
    "LANGFUSE_PORT": "3000",
    "LANGFUSE_SECRET": "nextauth-secret-for-the-test",
    "LANGFUSE_SALT": "salt-for-the-test",
    "LANGFUSE_ENCRYPTION_KEY": "0" * 64,
    "LANGFUSE_PUBLIC_KEY": "pk-lf-00000000-0000-4000-8000-000000000001",
    "LANGFUSE_SECRET_KEY": "sk-lf-00000000-0000-4000-8000-000000000002",
    "LANGFUSE_ADMIN_EMAIL": "Admin@TransBot.local",
    "LANGFUSE_ADMIN_PASSWORD": "first-admin-password",
}
_counter = itertools.count(1)


def langfuse_env(**overrides: str) -> dict[str, str]:
    """The langfuse service's environment from the compose file; OVERRIDES
    win (an empty value counts as unset, as in Langfuse)."""
    service = compose_service("langfuse")
    env = {key: interpolate(str(value), VALUES) for key, value in service["environment"].items()}
    env["DATABASE_URL"] = env["DATABASE_URL"].replace("@postgres:", "@127.0.0.1:")
    env.update(overrides)
    return env


def run_langfuse(pool, env: dict[str, str], network_of: Container | None = None) -> Container:
    name = f"{PROJECT_PREFIX}{os.getpid()}xl{next(_counter)}-langfuse"
    container = Container(name, pool.images["langfuse"], {}, dict(env))
    pool.containers.append(container)
    LIVE[name] = container
    args = ["run", "-d", "--name", name, "--label", f"com.docker.compose.project={name}"]
    if network_of is not None:
        args += ["--network", f"container:{network_of.name}"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    result = docker(*args, container.image, timeout=120)
    assert result.returncode == 0, result.stderr
    return container


def settle(container: Container, timeout: float = 120) -> str:
    """Waits until Langfuse is ready or has exited; returns 'ready' or 'exited'."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Ready" in container.logs():
            return "ready"
        if not container.running():
            return "exited"
        time.sleep(0.3)
    raise AssertionError(f"{container.name} neither got ready nor exited:\n{container.logs()[-3000:]}")


def init_rows(pg) -> tuple[list, list]:
    """Every user and organisation membership (none before the migrations ran)."""
    with pg.connect(user="langfuse", dbname="langfuse") as conn:
        if conn.execute("SELECT to_regclass('users')").fetchone() == (None,):
            return [], []
        users = conn.execute("SELECT id, email, name, password FROM users ORDER BY email").fetchall()
        members = conn.execute("SELECT org_id, user_id, role FROM organization_memberships").fetchall()
    return users, members


def forget_users(pg) -> None:
    users, _ = init_rows(pg)
    if users:
        with pg.connect(user="langfuse", dbname="langfuse") as conn:
            conn.execute("DELETE FROM organization_memberships")
            conn.execute("DELETE FROM users")


# --- DATABASE_URL ---------------------------------------------------------------------------

@pytest.mark.parametrize("char", list(":&;=!*") + ["%zz"], ids=repr)
def test_a_password_prisma_would_refuse_stops_langfuse_with_p1013(pool, char):
    password = f"pass{char}word"
    env = langfuse_env(DATABASE_URL=f"postgresql://langfuse:{password}@127.0.0.1:5432/langfuse")
    container = run_langfuse(pool, env)
    assert container.wait_exit(timeout=120) != 0
    logs = container.logs()
    assert "P1013" in logs, logs
    assert password not in logs, "the password was printed"
    container.remove()


# --- Headless initialisation ----------------------------------------------------------------

@pytest.fixture(scope="module")
def pg(module_pool):
    return start_postgres(module_pool, "pg-langfuse-init", postgres_password="pg-pw-77aa",
                          langfuse_password=LANGFUSE_DB_PASSWORD)


@pytest.fixture(scope="module")
def second_pg(module_pool):
    return start_postgres(module_pool, "pg-langfuse-noinit", postgres_password="pg-pw-88bb",
                          langfuse_password=LANGFUSE_DB_PASSWORD)


def test_the_admin_login_is_created_as_owner_of_the_organisation(module_pool, pg):
    container = run_langfuse(module_pool, langfuse_env(), network_of=pg.container)
    assert settle(container) == "ready", container.logs()
    users, members = init_rows(pg)
    assert [(email, name) for _, email, name, _ in users] == [("admin@transbot.local", "TransBot Admin")]
    user_id, _, _, stored_password = users[0]
    assert stored_password and VALUES["LANGFUSE_ADMIN_PASSWORD"] not in stored_password
    assert members == [("transbot", user_id, "OWNER")]
    container.remove()


def test_a_restart_creates_nothing_again_and_keeps_the_admin_an_owner(module_pool, pg):
    (user_id, _, _, stored_password), = init_rows(pg)[0]
    with pg.connect(user="langfuse", dbname="langfuse") as conn:
        conn.execute("UPDATE organization_memberships SET role = 'MEMBER'")
    changed = langfuse_env(LANGFUSE_INIT_USER_PASSWORD="a-new-admin-password", LANGFUSE_INIT_USER_NAME="Renamed")
    container = run_langfuse(module_pool, changed, network_of=pg.container)
    assert settle(container) == "ready", container.logs()
    users, members = init_rows(pg)
    assert users == [(user_id, "admin@transbot.local", "TransBot Admin", stored_password)], \
        "an existing user was changed: only what is missing is created"
    assert members == [("transbot", user_id, "OWNER")]
    container.remove()


@pytest.mark.parametrize("why, overrides", [
    ("no LANGFUSE_INIT_ORG_ID", {"LANGFUSE_INIT_ORG_ID": ""}),
    ("a password under 8 characters", {"LANGFUSE_INIT_USER_PASSWORD": "short"}),
    ("an invalid email", {"LANGFUSE_INIT_USER_EMAIL": "not-an-email"}),
    ("no password", {"LANGFUSE_INIT_USER_PASSWORD": ""}),
])
def test_no_user_is_created_without_what_it_needs(module_pool, second_pg, why, overrides):
    container = run_langfuse(module_pool, langfuse_env(**overrides), network_of=second_pg.container)
    try:
        settle(container)
        assert init_rows(second_pg) == ([], []), f"a user was created with {why}"
    finally:
        container.remove()
        forget_users(second_pg)  # each case starts without one


def test_the_same_database_gets_its_user_once_everything_is_there(module_pool, second_pg):
    """The cases above left no user because of what they lacked, not
    because this database cannot get one."""
    container = run_langfuse(module_pool, langfuse_env(), network_of=second_pg.container)
    assert settle(container) == "ready", container.logs()
    users, members = init_rows(second_pg)
    assert [email for _, email, _, _ in users] == ["admin@transbot.local"]
    assert [role for _, _, role in members] == ["OWNER"]
    container.remove()


# --- Replicas starting together ------------------------------------------------------------

def test_two_replicas_starting_together_migrate_once_and_both_serve(pool):
    """A swarm starts its Langfuse replicas at once, and each runs the
    migrations at start. Prisma serialises them with a PostgreSQL advisory
    lock: the second waits, finds nothing pending, and starts; neither fails.
    The migrations take a few seconds here so the two really overlap."""
    pg = start_postgres(pool, "pg-two-replicas", postgres_password="pg-pw-99cc",
                        langfuse_password=LANGFUSE_DB_PASSWORD)
    # Both share PostgreSQL's network namespace: a port each.
    replicas = [run_langfuse(pool, langfuse_env(STANDIN_MIGRATION_SECONDS="4", PORT=port), network_of=pg.container)
                for port in ("3000", "3001")]
    assert [settle(replica) for replica in replicas] == ["ready", "ready"], \
        "\n\n".join(replica.logs()[-2000:] for replica in replicas)
    with pg.connect(user="langfuse", dbname="langfuse") as conn:
        rows = conn.execute('SELECT migration_name, count(*), count(finished_at) FROM "_prisma_migrations"'
                            " GROUP BY migration_name").fetchall()
    assert rows and all(count == 1 and finished == 1 for _, count, finished in rows), rows
    outcomes = sorted("applied" if "have been applied" in replica.logs() else
                      "nothing pending" if "No pending migrations" in replica.logs() else "?"
                      for replica in replicas)
    assert outcomes == ["applied", "nothing pending"]

"""Who may connect, with which password, and what each role may do: the
Langfuse role and database made by langfuse-database.sh, and password
authentication for every connection from outside the container."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from .servers import start_postgres

POSTGRES_PASSWORD = "access-pw-9d4e"
LANGFUSE_PASSWORD = "langfuse-pw-c0ffee"

# Everything that breaks naive quoting in SQL, shell or a connection string.
HOSTILE_PASSWORD = "p'w\"; DROP ROLE transbot_user; -- \\ $HOME $$ $(id) `id` %L :'pw' ok"

LOOPBACK = {"127.0.0.1", "::1"}


@pytest.fixture(scope="module")
def pg(module_pool):
    return start_postgres(module_pool, "pg-access", postgres_password=POSTGRES_PASSWORD,
                          langfuse_password=LANGFUSE_PASSWORD)


@pytest.fixture(scope="module")
def admin(pg):
    with pg.connect() as connection:
        yield connection


@pytest.fixture(scope="module")
def hostile_pg(module_pool):
    """A second server whose LANGFUSE_DB_PASSWORD holds quotes, a semicolon,
    a backslash and dollar signs."""
    return start_postgres(module_pool, "pg-hostile", postgres_password=POSTGRES_PASSWORD,
                          langfuse_password=HOSTILE_PASSWORD)


def test_langfuse_database_is_owned_by_the_langfuse_role(admin):
    owner = admin.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'langfuse'").fetchone()
    assert owner == ("langfuse",)
    assert owner != ("transbot_user",)


def test_langfuse_role_is_an_ordinary_login_role(admin):
    role = admin.execute("SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
                         " FROM pg_roles WHERE rolname = 'langfuse'").fetchone()
    assert role == (True, False, False, False, False, False)


def test_langfuse_role_logs_in_over_tcp_with_its_scram_password(pg, admin):
    stored = admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'langfuse'").fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$")
    rules = admin.execute("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host'"
                          " AND address = 'all' AND error IS NULL").fetchall()
    assert rules == [("scram-sha-256",)]
    with pg.connect(user="langfuse", dbname="langfuse") as conn:
        who = conn.execute("SELECT current_user, current_database(), host(inet_client_addr())").fetchone()
    assert who[:2] == ("langfuse", "langfuse")
    # From the host the server sees a remote address, so the scram rule
    # (not the in-container loopback trust) is what let us in.
    assert who[2] not in LOOPBACK


def test_langfuse_role_can_create_tables_in_its_own_database(pg):
    with pg.connect(user="langfuse", dbname="langfuse") as conn:
        conn.execute("CREATE TABLE public.migration_probe (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO public.migration_probe VALUES (1, 'prisma would do this')")
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'migration_probe'").fetchone()
        conn.execute("DROP TABLE public.migration_probe")
    assert owner == ("langfuse",)


def test_langfuse_role_cannot_create_tables_in_the_transbot_database(pg):
    with pg.connect(user="langfuse", dbname="transbot") as conn:
        with pytest.raises(errors.InsufficientPrivilege, match="permission denied for schema public"):
            conn.execute("CREATE TABLE public.intruder (id int)")


def test_langfuse_role_cannot_read_transbot_data(pg):
    with pg.connect(user="langfuse", dbname="transbot") as conn:
        with pytest.raises(errors.InsufficientPrivilege, match="permission denied for schema transbot"):
            conn.execute("SELECT count(*) FROM transbot.translations")


@pytest.mark.parametrize("user, dbname", [("transbot_user", "transbot"), ("langfuse", "langfuse")])
def test_remote_login_with_a_wrong_password_is_refused(pg, user, dbname):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg.connect(user=user, password="not-the-password", dbname=dbname)


@pytest.mark.parametrize("user, dbname", [("transbot_user", "transbot"), ("langfuse", "langfuse")])
def test_remote_login_without_a_password_is_refused(pg, monkeypatch, user, dbname):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with pytest.raises(psycopg.OperationalError, match="no password supplied|password authentication failed"):
        pg.connect(user=user, password=None, dbname=dbname)


def test_langfuse_password_with_quotes_semicolons_backslash_and_dollars_works(hostile_pg):
    with hostile_pg.connect(user="langfuse", password=HOSTILE_PASSWORD, dbname="langfuse") as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("langfuse",)
    # Nothing was injected: the bootstrap role is intact, no role was added.
    with hostile_pg.connect() as admin:
        roles = [row[0] for row in admin.execute("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1")]
    assert roles == ["langfuse", "transbot_user"]
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        hostile_pg.connect(user="langfuse", password=HOSTILE_PASSWORD[:-3], dbname="langfuse")

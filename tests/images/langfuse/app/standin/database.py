"""Database access and the "migrations" of the Langfuse v2 stand-in.

The real image runs `prisma migrate deploy` (hundreds of migrations) before
the server starts. The stand-in keeps the observable behaviour that matters to
the transbot stack, not the real schema:

* the target database is created if missing (migrate deploy does that);
* a non-empty schema without `_prisma_migrations` fails with P3005;
* a role that may not create tables fails with PostgreSQL's own error;
* a previously failed migration blocks start-up (P3009);
* applied migrations are recorded in `_prisma_migrations` and skipped later;
* with STANDIN_MIGRATION_SECONDS they take as long as the real ones (~10 s
  on an empty database), so tests of start-up timeouts see the real wait.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from contextlib import contextmanager

import psycopg2
from psycopg2 import sql

from .config import DatabaseUrl

# Prisma serialises concurrent `migrate deploy` runs with this advisory lock.
MIGRATION_LOCK_ID = 72707369

# Errors worth waiting for: the server is not up (yet), or its name does not
# resolve yet (a Compose service that is still being created).
_RETRYABLE = (
    "connection refused",
    "could not translate host name",
    "name or service not known",
    "temporary failure in name resolution",
    "no route to host",
    "timeout expired",
    "the database system is starting up",
    "the database system is shutting down",
    "server closed the connection unexpectedly",
)


class MigrationError(Exception):
    """Start-up must stop; the message is what Prisma would roughly print."""


def _is_retryable(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in _RETRYABLE)


def connect(db: DatabaseUrl, *, timeout: float = 5.0, database: str | None = None):
    """One connection with search_path set to the URL's schema."""
    kwargs = db.connect_kwargs()
    kwargs.setdefault("connect_timeout", max(1, int(timeout)))
    if database is not None:
        kwargs["dbname"] = database
    conn = psycopg2.connect(**kwargs)
    if db.schema != "public":
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(db.schema)))
        conn.commit()
    return conn


def connect_with_retry(db: DatabaseUrl, wait_seconds: float = 10.0):
    """Connect, waiting up to wait_seconds for a server that is not up yet.

    A database that does not exist is created, as `prisma migrate deploy`
    does. Authentication and permission errors fail at once.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return connect(db)
        except psycopg2.OperationalError as exc:
            text = str(exc)
            if f'database "{db.database}" does not exist' in text:
                _create_database(db)
                continue
            if _is_retryable(exc) and time.monotonic() < deadline:
                time.sleep(1)
                continue
            raise MigrationError(_describe_connect_error(db, exc)) from exc


def _describe_connect_error(db: DatabaseUrl, exc: Exception) -> str:
    text = str(exc).strip()
    if "password authentication failed" in text or "no password supplied" in text:
        return (
            f"Error: P1000: Authentication failed against database server at `{db.host}`, "
            f"the provided database credentials for `{db.user}` are not valid.\n\n{text}"
        )
    if _is_retryable(exc):
        return (
            f"Error: P1001: Can't reach database server at `{db.where()}`\n\n"
            f"Please make sure your database server is running at `{db.where()}`.\n\n{text}"
        )
    return f"Error: {text}"


def _create_database(db: DatabaseUrl) -> None:
    try:
        conn = connect(db, database="postgres")
    except psycopg2.OperationalError as exc:
        raise MigrationError(_describe_connect_error(db, exc)) from exc
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.database)))
    except psycopg2.errors.DuplicateDatabase:
        pass
    except psycopg2.Error as exc:
        raise MigrationError(_pg_error(exc)) from exc
    finally:
        conn.close()
    print(f"PostgreSQL database {db.database} created at {db.where()}")


def _pg_error(exc: psycopg2.Error) -> str:
    """Database errors as Prisma reports them: code plus PostgreSQL's text."""
    message = (exc.pgerror or str(exc)).strip()
    code = exc.pgcode or "unknown"
    return f"Database error code: {code}\n\nDatabase error:\n{message}"


@contextmanager
def transaction(db: DatabaseUrl):
    """A short-lived connection for one request; commit on success."""
    conn = connect(db)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


# --- migrations ----------------------------------------------------------

MIGRATIONS = [
    (
        "20240101000000_standin_core",
        """
        CREATE TABLE organizations (
            id text PRIMARY KEY,
            name text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE users (
            id text PRIMARY KEY,
            name text,
            email text UNIQUE,
            password text,
            admin boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE organization_memberships (
            id text PRIMARY KEY,
            org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (org_id, user_id)
        );
        CREATE TABLE projects (
            id text PRIMARY KEY,
            org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            name text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE api_keys (
            id text PRIMARY KEY,
            project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            public_key text NOT NULL UNIQUE,
            fast_hashed_secret_key text NOT NULL,
            display_secret_key text NOT NULL,
            note text,
            created_at timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz
        );
        """,
    ),
    (
        "20240101000100_standin_tracing",
        """
        CREATE TABLE traces (
            id text PRIMARY KEY,
            project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            "timestamp" timestamptz NOT NULL DEFAULT now(),
            name text,
            user_id text,
            session_id text,
            release text,
            version text,
            input jsonb,
            output jsonb,
            metadata jsonb,
            tags text[] NOT NULL DEFAULT '{}',
            public boolean NOT NULL DEFAULT false,
            environment text NOT NULL DEFAULT 'default',
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX traces_project_id_timestamp_idx ON traces (project_id, "timestamp" DESC);
        CREATE TABLE observations (
            id text PRIMARY KEY,
            trace_id text,
            project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            type text NOT NULL,
            name text,
            start_time timestamptz NOT NULL DEFAULT now(),
            end_time timestamptz,
            completion_start_time timestamptz,
            model text,
            model_parameters jsonb,
            input jsonb,
            output jsonb,
            metadata jsonb,
            usage jsonb,
            level text NOT NULL DEFAULT 'DEFAULT',
            status_message text,
            parent_observation_id text,
            version text,
            environment text NOT NULL DEFAULT 'default',
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX observations_trace_id_idx ON observations (trace_id);
        CREATE TABLE scores (
            id text PRIMARY KEY,
            trace_id text NOT NULL,
            observation_id text,
            project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            name text NOT NULL,
            value double precision,
            string_value text,
            data_type text NOT NULL,
            source text NOT NULL DEFAULT 'API',
            comment text,
            environment text NOT NULL DEFAULT 'default',
            "timestamp" timestamptz NOT NULL DEFAULT now(),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX scores_trace_id_idx ON scores (trace_id);
        """,
    ),
]

_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    id varchar(36) PRIMARY KEY,
    checksum varchar(64) NOT NULL,
    finished_at timestamptz,
    migration_name varchar(255) NOT NULL,
    logs text,
    rolled_back_at timestamptz,
    started_at timestamptz NOT NULL DEFAULT now(),
    applied_steps_count integer NOT NULL DEFAULT 0
)
"""


def _schema_is_empty(cur, schema: str) -> bool:
    cur.execute(
        """
        SELECT
          (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %(s)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))
        + (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = %(s)s AND t.typtype = 'e')
        """,
        {"s": schema},
    )
    return cur.fetchone()[0] == 0


def _has_migrations_table(cur, schema: str) -> bool:
    cur.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = '_prisma_migrations'",
        (schema,),
    )
    return cur.fetchone() is not None


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def migrate(db: DatabaseUrl, seconds: float = 0.0) -> None:
    """Bring the schema up to date, like `prisma migrate deploy`.

    seconds: how long applying all migrations takes (spread over them, so a
    database that has them all applied starts at once, as with Prisma)."""
    print("Prisma schema loaded from packages/shared/prisma/schema.prisma (stand-in)")
    print(f'Datasource "db": PostgreSQL database "{db.database}", schema "{db.schema}" at "{db.where()}"')
    print()
    conn = connect_with_retry(db)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
            try:
                _migrate_locked(cur, db, seconds / len(MIGRATIONS))
            finally:
                cur.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    except psycopg2.Error as exc:
        raise MigrationError(_pg_error(exc)) from exc
    finally:
        conn.close()


def _migrate_locked(cur, db: DatabaseUrl, seconds_each: float) -> None:
    if db.schema != "public":
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(db.schema)))
    if not _has_migrations_table(cur, db.schema) and not _schema_is_empty(cur, db.schema):
        raise MigrationError(
            "Error: P3005\n\n"
            "The database schema is not empty. Read more about how to baseline an existing "
            "production database: https://pris.ly/d/migrate-baseline"
        )
    cur.execute(_MIGRATIONS_TABLE)
    cur.execute('SELECT migration_name, finished_at, rolled_back_at FROM "_prisma_migrations"')
    rows = cur.fetchall()
    failed = [name for name, finished, rolled_back in rows if finished is None and rolled_back is None]
    if failed:
        raise MigrationError(
            "Error: P3009\n\nmigrate found failed migrations in the target database, new migrations "
            "will not be applied.\nThe `" + failed[0] + "` migration failed."
        )
    done = {name for name, finished, _ in rows if finished is not None}
    print(f"{len(MIGRATIONS)} migrations found in prisma/migrations")
    pending = [(name, text) for name, text in MIGRATIONS if name not in done]
    if not pending:
        print("\nNo pending migrations to apply.")
        return
    for name, text in pending:
        print(f"\nApplying migration `{name}`")
        _apply(cur, name, text, seconds_each)
    print("\nThe following migration(s) have been applied:\n")
    for name, _ in pending:
        print(f"  {name}/\n    └─ migration.sql")
    print("\nAll migrations have been successfully applied.")


def _apply(cur, name: str, text: str, seconds: float) -> None:
    row_id = str(uuid.uuid4())
    cur.execute("BEGIN")
    try:
        cur.execute(text)
        if seconds > 0:
            # Inside the migration's transaction, on the server: like real SQL
            # work, it holds the connection and fails if PostgreSQL goes away.
            cur.execute("SELECT pg_sleep(%s)", (seconds,))
        cur.execute(
            'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)'
            " VALUES (%s, %s, now(), %s, 1)",
            (row_id, _checksum(text), name),
        )
        cur.execute("COMMIT")
    except psycopg2.Error as exc:
        cur.execute("ROLLBACK")
        # Like Prisma, remember the failure: later starts stop with P3009.
        cur.execute(
            'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs) VALUES (%s, %s, %s, %s)',
            (row_id, _checksum(text), name, str(exc)),
        )
        raise MigrationError(
            f"Error: P3018\n\nA migration failed to apply. New migrations cannot be applied "
            f"before the error is recovered from.\n\nMigration name: {name}\n\n{_pg_error(exc)}"
        ) from exc

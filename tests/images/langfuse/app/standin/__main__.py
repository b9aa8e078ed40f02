"""Command line: `python3 -m standin migrate` or `python3 -m standin serve`.

migrate  what the real image's entrypoint does before the server starts
         (`prisma migrate deploy`); exit 1 on failure, 3 on invalid env.
serve    validate the environment, provision LANGFUSE_INIT_*, serve HTTP.
"""

from __future__ import annotations

import sys

import psycopg2

from . import config, database, provision, server

EXIT_INVALID_ENV = 3


def _settings():
    try:
        return config.validate()
    except config.ConfigError as exc:
        print(config.format_problems(exc.args[0]), file=sys.stderr, flush=True)
        return None


def _provision(settings) -> int:
    if not settings.init["LANGFUSE_INIT_ORG_ID"]:
        provision.provision(None, settings.init, settings.salt)  # only warns
        return 0
    try:
        conn = database.connect_with_retry(settings.database)
        try:
            with conn:
                provision.provision(conn, settings.init, settings.salt)
        finally:
            conn.close()
    except database.MigrationError as exc:
        print(f"Failed to initialize from LANGFUSE_INIT_* variables:\n{exc}", file=sys.stderr)
        return 1
    except psycopg2.Error as exc:
        print(f"Failed to initialize from LANGFUSE_INIT_* variables: {str(exc).strip()}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "serve"
    if command not in ("migrate", "serve"):
        print(f"usage: python3 -m standin migrate|serve (got {command!r})", file=sys.stderr)
        return 2
    settings = _settings()
    if settings is None:
        return EXIT_INVALID_ENV if command == "migrate" else 1
    if command == "migrate":
        try:
            database.migrate(settings.database, settings.knobs.migration_seconds)
        except database.MigrationError as exc:
            print(exc, file=sys.stderr, flush=True)
            return 1
        return 0
    status = _provision(settings)
    if status:
        return status
    return server.run(settings)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

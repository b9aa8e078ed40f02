"""The PostgreSQL 17 stand-in, the upgrade tests' target: it initialises
with the repository's init files like 15, says truthfully which PostgreSQL
it runs (PG_MAJOR/PG_VERSION, as the official images do), and refuses a data
folder that 15 initialised, as the real server does."""

from __future__ import annotations

import json

import pytest

from support.engine import STANDIN_IMAGES, STANDIN_POSTGRES_17

from .servers import ContainerPool, docker, start_postgres

POSTGRES_PASSWORD = "pg17-pw-5b1e"
LANGFUSE_PASSWORD = "langfuse17-pw-77aa"
POSTGRES_IMAGES = {15: STANDIN_IMAGES["postgres"], 17: STANDIN_POSTGRES_17}


@pytest.fixture
def pool17(standins):
    pool = ContainerPool({"postgres": STANDIN_POSTGRES_17})
    yield pool
    pool.remove_all()


@pytest.fixture
def pool15(standins):
    pool = ContainerPool({"postgres": STANDIN_IMAGES["postgres"]})
    yield pool
    pool.remove_all()


def image_config(image: str) -> dict:
    result = docker("image", "inspect", "--format", "{{json .Config}}", image)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def image_env(image: str) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in image_config(image)["Env"])


def test_postgres_17_initialises_with_the_repositorys_init_files_and_serves(pool17):
    pg = start_postgres(pool17, "pg17-init", postgres_password=POSTGRES_PASSWORD,
                        langfuse_password=LANGFUSE_PASSWORD)
    with pg.connect() as connection:
        assert connection.execute("SHOW server_version_num").fetchone()[0].startswith("17")
        # init.sql's schema and tables, usable by the application role.
        tables = {row[0] for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'transbot'")}
        assert {"users", "translations"} <= tables, tables
        connection.execute("INSERT INTO transbot.users (external_id, display_name) VALUES ('u17', 'seventeen')")
        assert connection.execute("SELECT display_name FROM transbot.users WHERE external_id = 'u17'").fetchone() == (
            "seventeen",)
    # langfuse-database.sh's role and database: Langfuse logs in with its password.
    with pg.connect(user="langfuse", dbname="langfuse") as connection:
        assert connection.execute("SELECT current_user, current_database()").fetchone() == ("langfuse", "langfuse")
        connection.execute("CREATE TABLE migrated (id int)")
    # The folder says which major made it: what the stack compares with PG_MAJOR.
    folder_version = pg.container.exec("cat", "/var/lib/postgresql/data/PG_VERSION").stdout.strip()
    assert folder_version == image_env(STANDIN_POSTGRES_17)["PG_MAJOR"] == "17"


@pytest.mark.parametrize("major", sorted(POSTGRES_IMAGES))
def test_pg_major_and_pg_version_say_which_server_the_image_runs(standins, major):
    image = POSTGRES_IMAGES[major]
    env = image_env(image)
    reported = docker("run", "--rm", "--network", "none", image, "postgres", "--version")
    assert reported.returncode == 0, reported.stderr
    # "postgres (PostgreSQL) 17.12 (Debian 17.12-0+deb13u1)"
    server_version = reported.stdout.split()[2]
    assert env["PG_VERSION"] == server_version
    assert env["PG_MAJOR"] == str(major) == server_version.split(".")[0]


def test_postgres_17_keeps_the_image_contract_of_15(standins):
    config15, config17 = image_config(POSTGRES_IMAGES[15]), image_config(POSTGRES_IMAGES[17])
    for key in ("Entrypoint", "Cmd", "StopSignal", "Volumes", "ExposedPorts", "User", "WorkingDir"):
        assert config17.get(key) == config15.get(key), key
    env15, env17 = image_env(POSTGRES_IMAGES[15]), image_env(POSTGRES_IMAGES[17])
    assert env17["PGDATA"] == env15["PGDATA"] == "/var/lib/postgresql/data"
    assert env17["LANG"] == env15["LANG"]
    assert env17["PATH"].startswith("/usr/lib/postgresql/17/bin:")
    uid = docker("run", "--rm", "--network", "none", "--entrypoint", "id", POSTGRES_IMAGES[17], "postgres")
    assert uid.stdout.split()[:2] == ["uid=70(postgres)", "gid=70(postgres)"], uid.stdout


def test_postgres_17_refuses_a_folder_initialised_by_15_and_leaves_it_as_it_was(pool15, pool17):
    pg15 = start_postgres(pool15, "pg15-old", postgres_password=POSTGRES_PASSWORD,
                          langfuse_password=LANGFUSE_PASSWORD)
    with pg15.connect() as connection:
        connection.execute("INSERT INTO transbot.users (external_id, display_name) VALUES ('u15', 'fifteen')")
    pg15.container.exec("pg_ctl", "stop", "-m", "fast", "-w", user="postgres")  # the container exits with it
    assert pg15.container.wait_exit() == 0

    pg17 = start_postgres(pool17, "pg17-on-15", postgres_password=POSTGRES_PASSWORD,
                          langfuse_password=LANGFUSE_PASSWORD, wait=False, volumes_from=pg15.container.name)
    assert pg17.container.wait_exit() == 1
    logs = pg17.container.logs()
    assert "FATAL:  database files are incompatible with server" in logs, logs
    assert "The data directory was initialized by PostgreSQL version 15, which is not compatible with this " \
           "version 17." in logs, logs
    assert "init process complete" not in logs

    # Nothing changed: 15 starts on its folder again, with the row in it.
    pg15.container.start()
    pg15.wait_ready()
    with pg15.connect() as connection:
        assert connection.execute("SELECT display_name FROM transbot.users WHERE external_id = 'u15'").fetchone() == (
            "fifteen",)
    assert pg15.container.exec("cat", "/var/lib/postgresql/data/PG_VERSION").stdout.strip() == "15"

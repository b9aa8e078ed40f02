"""Single PostgreSQL and Redis containers, configured from docker-compose.yml.

The integration layer starts no stack: it `docker run`s one service at a
time, with the environment, mounts, command and healthcheck that the compose
file gives that service, so the tests exercise exactly what Compose would
run. Every container is published on 127.0.0.1 only and carries a
com.docker.compose.project label of the form tbtest<pid>x..., which the
session's stale-stack cleanup (support.engine.remove_stale_projects)
recognises if a killed run leaves one behind.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
import yaml
from redis.backoff import NoBackoff
from redis.retry import Retry

from support.engine import PROJECT_PREFIX, REPO_ROOT, free_port

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
INITDB_DIR = "/docker-entrypoint-initdb.d/"

_counter = itertools.count(1)

# Containers started and not yet removed, for diagnostics on failure.
LIVE: dict[str, "Container"] = {}


# --- docker-compose.yml ---------------------------------------------------------

@functools.cache
def compose_file() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_service(name: str) -> dict:
    return compose_file()["services"][name]


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(KeyError):
    pass


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-default},
    ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}."""

    def substitute(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["plain"]
        op, arg = match["op"], match["arg"] or ""
        is_set = name in values
        value = values.get(name, "")
        usable = is_set and (value != "" or not (op or "").startswith(":"))
        if op in (":-", "-"):
            return value if usable else arg
        if op in (":?", "?"):
            if not usable:
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op in (":+", "+"):
            return arg if usable else ""
        return value

    return _VARIABLE.sub(substitute, text)


def healthcheck_command(service: str) -> list[str]:
    """The service's healthcheck test as the argv `docker exec` must run."""
    test = compose_service(service)["healthcheck"]["test"]
    kind, rest = test[0], [interpolate(str(word), {}) for word in test[1:]]
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", *rest]
    assert kind == "CMD", f"unexpected healthcheck form {kind!r}"
    return rest


# --- Containers ------------------------------------------------------------------

def docker(*args: str, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, encoding="utf-8",
                          errors="replace", timeout=timeout, input=input)


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool = True

    @property
    def arg(self) -> str:
        return f"{self.source}:{self.target}{':ro' if self.read_only else ''}"


@dataclass
class Container:
    name: str
    image: str
    ports: dict[int, int] = field(default_factory=dict)  # container port -> host port
    env: dict[str, str] = field(default_factory=dict)

    def exec(self, *command: str, env: dict[str, str] | None = None, user: str | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess:
        """`docker exec`; the container's own environment plus `env`."""
        options: list[str] = []
        for key, value in (env or {}).items():
            options += ["-e", f"{key}={value}"]
        if user:
            options += ["-u", user]
        return docker("exec", *options, self.name, *command, timeout=timeout)

    def logs(self) -> str:
        result = docker("logs", self.name, timeout=60)
        return result.stdout + result.stderr

    def state(self) -> tuple[str, int]:
        result = docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", self.name, timeout=30)
        status, _, code = result.stdout.strip().partition(" ")
        return status, int(code or 0)

    def running(self) -> bool:
        return self.state()[0] == "running"

    def wait_exit(self, timeout: float = 90) -> int:
        result = docker("wait", self.name, timeout=timeout)
        assert result.returncode == 0, result.stderr
        return int(result.stdout.strip())

    def restart(self) -> None:
        result = docker("restart", self.name, timeout=120)
        assert result.returncode == 0, result.stderr

    def start(self) -> None:
        result = docker("start", self.name, timeout=120)
        assert result.returncode == 0, result.stderr

    def remove(self) -> None:
        docker("rm", "-f", "-v", self.name, timeout=120)
        LIVE.pop(self.name, None)


class ContainerPool:
    """Starts containers and removes all of them (and their anonymous
    volumes) when the owning fixture ends, whatever happened."""

    def __init__(self, images: dict[str, str]):
        self.images = images
        self.containers: list[Container] = []

    def run(self, role: str, service: str, *, env: dict[str, str], command: list[str] | None = None,
            mounts: list[Mount] = (), publish: tuple[int, ...] = (), volumes_from: str | None = None,
            options: list[str] = ()) -> Container:
        name = f"{PROJECT_PREFIX}{os.getpid()}xi{next(_counter)}-{role}"
        container = Container(name, self.images[service], {port: free_port() for port in publish}, dict(env))
        # Registered before `docker run`: a run that fails half-way may
        # still have created the container.
        self.containers.append(container)
        LIVE[name] = container
        args = ["run", "-d", "--name", name, "--label", f"com.docker.compose.project={name}",
                "--label", f"com.docker.compose.service={service}"]
        for port, host_port in container.ports.items():
            args += ["-p", f"127.0.0.1:{host_port}:{port}"]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        for mount in mounts:
            args += ["-v", mount.arg]
        if volumes_from:
            # Another container's data volume, e.g. a folder another major
            # initialised; `docker rm -v` of its owner removes it.
            args += ["--volumes-from", volumes_from]
        args += options  # any other `docker run` option, e.g. --health-cmd
        args.append(container.image)
        args += command or []
        result = docker(*args, timeout=120)
        assert result.returncode == 0, f"docker run failed:\n{result.stderr}"
        return container

    def remove_all(self) -> None:
        while self.containers:
            self.containers.pop().remove()


def wait_until(predicate, timeout: float, what: str, container: Container | None = None,
               interval: float = 0.2):
    """Polls predicate() until it returns a truthy value; fails early when
    the container has stopped."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if container is not None and not container.running():
            raise AssertionError(f"{container.name} stopped while waiting for {what}:\n"
                                 f"{container.logs()[-4000:]}")
        if time.monotonic() > deadline:
            logs = container.logs()[-4000:] if container is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")
        time.sleep(interval)


# --- PostgreSQL -----------------------------------------------------------------

POSTGRES_USER = "transbot_user"
POSTGRES_DB = "transbot"


@dataclass
class Postgres:
    container: Container
    env: dict[str, str]  # the container's environment, as compose gives it

    @property
    def port(self) -> int:
        return self.container.ports[5432]

    def connect(self, user: str | None = None, password: str | None = "from-env",
                dbname: str | None = None, **options) -> psycopg.Connection:
        """A connection from the host over the published port (TCP)."""
        user = user or self.env["POSTGRES_USER"]
        if password == "from-env":
            password = self.env["LANGFUSE_DB_PASSWORD" if user == "langfuse" else "POSTGRES_PASSWORD"]
        params = dict(host="127.0.0.1", port=self.port, user=user, dbname=dbname or self.env["POSTGRES_DB"],
                      connect_timeout=5, passfile=os.devnull, autocommit=True)
        if password is not None:
            params["password"] = password
        params.update(options)
        return psycopg.connect(**params)

    def psql_file(self, path: str) -> subprocess.CompletedProcess:
        """Runs an SQL file inside the container exactly as the official
        entrypoint runs init files: over the socket, stop at the first error."""
        return self.container.exec(
            "psql", "-v", "ON_ERROR_STOP=1", "--username", self.env["POSTGRES_USER"], "--no-password",
            "--no-psqlrc", "--dbname", self.env["POSTGRES_DB"], "-f", path, user="postgres")

    def pg_isready(self, *args: str) -> int:
        return self.container.exec("pg_isready", "-U", self.env["POSTGRES_USER"], "-d",
                                   self.env["POSTGRES_DB"], *args).returncode

    def wait_ready(self, timeout: float = 90) -> None:
        """Ready = the real server answers on TCP inside the container (the
        temporary init server listens on the socket only), and the host can
        log in over the published port."""
        wait_until(lambda: self.pg_isready("-h", "127.0.0.1") == 0, timeout, "pg_isready over TCP",
                   self.container)

        def host_login() -> bool:
            try:
                with self.connect():
                    return True
            except psycopg.OperationalError:
                return False

        wait_until(host_login, 30, "a login from the host", self.container)


def config_mounts(service: dict, values: dict[str, str], *, data_dir: str) -> list[Mount]:
    """The service's bind mounts from the compose file, but for its data
    directory: that stays in the image's anonymous volume, which `docker rm -v`
    removes with the container."""
    mounts = []
    for volume in service["volumes"]:
        source, target, *mode = interpolate(volume, values).split(":")
        if target != data_dir:
            mounts.append(Mount((REPO_ROOT / source).resolve(), target, read_only="ro" in mode))
    return mounts


def postgres_settings(values: dict[str, str]) -> tuple[dict[str, str], list[Mount]]:
    """The postgres service's environment and init-script mounts from the
    compose file, variables substituted from `values` like an env file."""
    service = compose_service("postgres")
    env = {key: interpolate(str(value), values) for key, value in service["environment"].items()}
    return env, config_mounts(service, values, data_dir="/var/lib/postgresql/data")


def start_postgres(pool: ContainerPool, role: str, *, postgres_password: str, langfuse_password: str,
                   extra_mounts: list[Mount] = (), wait: bool = True, volumes_from: str | None = None) -> Postgres:
    env, mounts = postgres_settings({
        "POSTGRES_USER": POSTGRES_USER,
        "POSTGRES_PASSWORD": postgres_password,
        "POSTGRES_DB": POSTGRES_DB,
        "LANGFUSE_DB_PASSWORD": langfuse_password,
    })
    container = pool.run(role, "postgres", env=env, mounts=[*mounts, *extra_mounts], publish=(5432,),
                         volumes_from=volumes_from)
    server = Postgres(container, env)
    if wait:
        server.wait_ready()
    return server


# --- Redis ----------------------------------------------------------------------

@dataclass
class Redis:
    container: Container
    password: str
    command: list[str]

    @property
    def port(self) -> int:
        return self.container.ports[6379]

    def client(self, password: str | None = "from-server") -> redis.Redis:
        if password == "from-server":
            password = self.password
        # No retries: a refused command should fail at once, not after
        # redis-py's backoff (it counts AuthenticationError as a
        # connection error and retries it).
        return redis.Redis(host="127.0.0.1", port=self.port, password=password, socket_timeout=5,
                           socket_connect_timeout=5, decode_responses=True, retry=Retry(NoBackoff(), 0))

    def wait_ready(self, timeout: float = 60) -> None:
        def answers() -> bool:
            try:
                return self.client().ping()
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                return False

        wait_until(answers, timeout, "an authenticated PING from the host", self.container)


def redis_settings(values: dict[str, str]) -> tuple[list[str], dict[str, str], list[Mount]]:
    """The redis service's command, environment and start-script mount from
    the compose file (its data stays in the container's anonymous volume)."""
    service = compose_service("redis")
    command = [interpolate(str(word), values) for word in service["command"]]
    env = {key: interpolate(str(value), values) for key, value in service["environment"].items()}
    return command, env, config_mounts(service, values, data_dir="/data")


def start_redis(pool: ContainerPool, role: str, *, password: str, appendfsync: str | None = None) -> Redis:
    values = {"REDIS_PASSWORD": password}
    if appendfsync is not None:
        values["REDIS_APPENDFSYNC"] = appendfsync
    command, env, mounts = redis_settings(values)
    container = pool.run(role, "redis", env=env, command=command, mounts=mounts, publish=(6379,))
    server = Redis(container, password, command)
    server.wait_ready()
    return server


def write_init_file(directory, name: str, text: str, mode: int = 0o644) -> Mount:
    path = directory / name
    path.write_text(text)
    path.chmod(mode)
    return Mount(path, INITDB_DIR + name)

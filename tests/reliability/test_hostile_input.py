"""Hostile and broken input against a running stack on the real engine.

Each case runs one script the way a person (or a pasted command) would get
it wrong, and asserts its exit code, the message that names the problem,
that no secret was printed, and that nothing changed: the same containers
(same start time, same restart count), networks and volumes in Docker, and
the same files (names, modes, bytes) in the repository copy and the folder
the script ran from. Data folders are left out of the file comparison:
their contents change while PostgreSQL and Redis run.

The unit layer covers usage errors of start/stop/restart/logs/reset/
health-check against a fake docker; these cases cover the other scripts
(init-env, app-env, psql, redis-cli, apply-schema, backup, restore), the
real engine's answers (Docker missing, daemon down, Compose missing, a
busy port), refusals on a running stack (a refused restart must not stop
anything), and the data folder being read-only or full.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import clients
from support.engine import unavailable
from support.fake_docker import DockerSandbox

from .common import (
    assert_no_secret,
    docker_state,
    health_check,
    script_ok,
    secrets_of,
    set_env_values,
    tree_difference,
    tree_snapshot,
)

USAGE, FAILURE = 2, 1


@dataclass(frozen=True)
class Case:
    script: str
    args: tuple[str, ...] = ()
    status: int = USAGE
    messages: tuple[str, ...] = ()  # each must appear on stderr
    env_file: dict[str, str | None] | str | None = None  # changes, or "empty", "missing", "crlf"
    environment: dict[str, str] = field(default_factory=dict)  # exported for the script
    unexport: tuple[str, ...] = ()  # variables the harness exports that this case must not
    docker: str = "real"  # real | missing | compose-missing | daemon-down
    one_line: bool = False  # a usage error is one line on stderr
    stdout_messages: tuple[str, ...] = ()  # each must appear on stdout


# The engine is "down" for these cases because DOCKER_HOST names a socket
# nobody listens on: the scripts name that daemon and the way back to the
# local one.
DAEMON_DOWN = "the Docker daemon at DOCKER_HOST=unix://{scratch}/no-daemon-here.sock is not reachable; start that daemon, or unset DOCKER_HOST"

CASES: dict[str, Case] = {
    # --- Arguments of the scripts the unit layer does not drive -------------------
    "init-env-argument": Case("init-env.sh", ("postgres",), messages=("init-env.sh takes no arguments",),
                              one_line=True),
    "init-env-unknown-option": Case("init-env.sh", ("--force",), messages=("unknown option '--force'",),
                                    one_line=True),
    "init-env-command-substitution": Case("init-env.sh", ("$(touch {marker})",),
                                          messages=("unexpected argument '$(touch ",), one_line=True),
    "app-env-unknown-option": Case("app-env.sh", ("--json",), messages=("unknown option '--json'",), one_line=True),
    "app-env-write-without-file": Case("app-env.sh", ("--write",), messages=("--write needs a value",),
                                       one_line=True),
    "app-env-write-option-injection": Case("app-env.sh", ("--write", "--help"), messages=("--write needs a value",),
                                           one_line=True),
    "app-env-shell-fragment": Case("app-env.sh", ("; touch {marker}",), messages=("unexpected argument",),
                                   one_line=True),
    "app-env-write-into-missing-folder": Case("app-env.sh", ("--write", "{scratch}/no/such/folder/.env"),
                                              status=FAILURE, messages=("cannot write",), one_line=True),
    "app-env-write-onto-a-folder": Case("app-env.sh", ("--write", "{scratch}"), status=FAILURE,
                                        messages=("not a writable regular file",), one_line=True),
    "apply-schema-argument": Case("apply-schema.sh", ("now",), messages=("apply-schema.sh takes no arguments",),
                                  one_line=True),
    "apply-schema-unknown-option": Case("apply-schema.sh", ("--drop-all",), messages=("unknown option '--drop-all'",),
                                        one_line=True),
    "backup-unknown-service": Case("backup.sh", ("mysql",), messages=("'mysql' is not a built-in service",), one_line=True),
    "backup-shell-fragment": Case("backup.sh", ("postgres; touch {marker}",),
                                  messages=("unknown service 'postgres; touch",), one_line=True),
    "backup-option-injection": Case("backup.sh", ("--output=/etc",), messages=("unknown option '--output=/etc'",),
                                    one_line=True),
    "backup-only-langfuse": Case("backup.sh", ("langfuse",), messages=("langfuse keeps no data of its own",), one_line=True),
    "restore-without-folder": Case("restore.sh", (), messages=("name the backup folder",), one_line=True),
    "restore-option-injection": Case("restore.sh", ("{backup}", "--force"), messages=("unknown option '--force'",),
                                     one_line=True),
    "restore-unknown-service": Case("restore.sh", ("{backup}", "mysql", "--yes"),
                                    messages=("'mysql' is not a built-in service",), one_line=True),
    "restore-not-a-backup": Case("restore.sh", ("/etc", "--yes"), status=FAILURE,
                                 messages=("/etc is not a backup folder",), one_line=True),
    "restore-command-substitution-folder": Case("restore.sh", ("$(touch {marker})", "--yes"), status=FAILURE,
                                                messages=("does not exist",), one_line=True),
    "restore-without-terminal": Case("restore.sh", ("{backup}",),
                                     messages=("refusing to replace the current data without a terminal",)),
    "restore-corrupt-backup": Case("restore.sh", ("{corrupt_backup}", "--yes"), status=FAILURE,
                                   messages=("redis.rdb in the backup is corrupt or truncated",)),
    "psql-shell-fragment": Case("psql.sh", ("-tAc", "SELECT 1", "; touch {marker}"), status=0,
                                messages=('extra command-line argument "; touch',), stdout_messages=("1",)),
    "redis-cli-shell-fragment": Case("redis-cli.sh", ("ping; touch {marker}",), status=0,
                                     stdout_messages=("ERR unknown command 'ping; touch",)),
    # --- .env.infra -----------------------------------------------------------------
    "env-empty-backup": Case("backup.sh", env_file="empty", status=FAILURE,
                             messages=("POSTGRES_PASSWORD is missing from .env.infra", "init-env.sh")),
    "env-empty-restart": Case("restart.sh", env_file="empty", status=FAILURE,
                              messages=("REDIS_PASSWORD is missing from .env.infra",)),
    "env-missing-health-check": Case("health-check.sh", env_file="missing", status=FAILURE,
                                     messages=(".env.infra does not exist yet",), one_line=True),
    "env-missing-psql": Case("psql.sh", ("-c", "SELECT 1"), env_file="missing", status=FAILURE,
                             messages=(".env.infra does not exist yet",), one_line=True),
    "env-missing-app-env": Case("app-env.sh", env_file="missing", status=FAILURE,
                                messages=(".env.infra does not exist yet",), one_line=True),
    "env-placeholder-restart": Case("restart.sh", env_file={"REDIS_PASSWORD": "change-me"}, status=FAILURE,
                                    messages=("still the placeholder 'change-me': REDIS_PASSWORD",)),
    "env-placeholder-redis-cli": Case("redis-cli.sh", ("ping",), env_file={"REDIS_PASSWORD": "change-me"},
                                      status=FAILURE, messages=("REDIS_PASSWORD",)),
    "env-secret-missing-start": Case("start.sh", env_file={"LANGFUSE_SALT": None}, status=FAILURE,
                                     messages=("LANGFUSE_SALT is missing from .env.infra",)),
    "env-secret-missing-apply-schema": Case("apply-schema.sh", env_file={"POSTGRES_PASSWORD": None},
                                            status=FAILURE, messages=("POSTGRES_PASSWORD is missing",)),
    "env-crlf-backup": Case("backup.sh", env_file="crlf", status=FAILURE, messages=("CRLF",)),
    "env-crlf-restart": Case("restart.sh", env_file="crlf", status=FAILURE, messages=("CRLF",)),
    "env-unquoted-dollar-start": Case("start.sh", env_file={"POSTGRES_PASSWORD": "abc$HOME-x"}, status=FAILURE,
                                      messages=("POSTGRES_PASSWORD", "Compose would expand the $")),
    "env-unclosed-quote-restart": Case("restart.sh", env_file={"REDIS_PASSWORD": "'abc def"}, status=FAILURE,
                                       messages=("REDIS_PASSWORD", "the single quote is not closed")),
    "env-hostile-langfuse-db-password-restart": Case(
        "restart.sh", env_file={"LANGFUSE_DB_PASSWORD": "'p@ss/w:rd?x'"}, status=FAILURE,
        messages=("LANGFUSE_DB_PASSWORD may only hold letters, digits and . _ ~ -",)),
    # --- Ports ------------------------------------------------------------------------
    "port-zero-in-file-restart": Case("restart.sh", env_file={"POSTGRES_PORT": "0"}, unexport=("POSTGRES_PORT",),
                                      status=FAILURE, messages=("POSTGRES_PORT must be a port number",)),
    "port-70000-in-file-start": Case("start.sh", env_file={"LANGFUSE_PORT": "70000"}, unexport=("LANGFUSE_PORT",),
                                     status=FAILURE, messages=("LANGFUSE_PORT must be a port number",)),
    "port-text-in-file-backup": Case("backup.sh", env_file={"REDIS_PORT": "six"}, unexport=("REDIS_PORT",),
                                     status=FAILURE, messages=("REDIS_PORT must be a port number",)),
    "port-exported-70000-restart": Case("restart.sh", ("redis",), environment={"REDIS_PORT": "70000"},
                                        status=FAILURE, messages=("REDIS_PORT must be a port number",)),
    "port-taken-start": Case("start.sh", environment={"REDIS_PORT": "{busy_port}"}, status=FAILURE,
                             messages=("port {busy_port} for redis is already in use", "REDIS_PORT=")),
    "port-taken-restart": Case("restart.sh", ("redis",), environment={"REDIS_PORT": "{busy_port}"}, status=FAILURE,
                               messages=("port {busy_port} for redis is already in use",)),
    "port-taken-in-file-start": Case("start.sh", ("postgres",), env_file={"POSTGRES_PORT": "{busy_port}"},
                                     unexport=("POSTGRES_PORT",), status=FAILURE,
                                     messages=("port {busy_port} for postgres is already in use",)),
    # --- Docker, the daemon, Compose ---------------------------------------------------------
    "docker-missing-backup": Case("backup.sh", docker="missing", status=FAILURE,
                                  messages=("docker is not installed",), one_line=True),
    "docker-missing-psql": Case("psql.sh", ("-c", "SELECT 1"), docker="missing", status=FAILURE,
                                messages=("docker is not installed",), one_line=True),
    "docker-missing-restore": Case("restore.sh", ("{backup}", "--yes"), docker="missing", status=FAILURE,
                                   messages=("docker is not installed",), one_line=True),
    "daemon-down-health-check": Case("health-check.sh", docker="daemon-down", status=FAILURE,
                                     messages=(DAEMON_DOWN,), one_line=True),
    "daemon-down-apply-schema": Case("apply-schema.sh", docker="daemon-down", status=FAILURE,
                                     messages=(DAEMON_DOWN,), one_line=True),
    "daemon-down-redis-cli": Case("redis-cli.sh", ("ping",), docker="daemon-down", status=FAILURE,
                                  messages=(DAEMON_DOWN,), one_line=True),
    "compose-missing-start": Case("start.sh", docker="compose-missing", status=FAILURE,
                                  messages=("Docker Compose is not installed",), one_line=True),
    "compose-missing-restore": Case("restore.sh", ("{backup}", "--yes"), docker="compose-missing", status=FAILURE,
                                    messages=("Docker Compose is not installed",), one_line=True),
}


# --- The stack and its surroundings ------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(module_stack):
    stack = module_stack()
    script_ok(stack, "start.sh")
    clients.write_row_and_key(stack, "hostile@example.com", "must survive every case", "hostile:key", "kept")
    script_ok(stack, "backup.sh")
    return stack


@pytest.fixture(scope="module")
def places(stack, tmp_path_factory):
    """Paths and PATHs the cases refer to."""
    root = tmp_path_factory.mktemp("hostile")
    sandbox = DockerSandbox.build(root / "sandbox")
    # Docker's CLI without any Compose: the real docker, no docker-compose,
    # and a DOCKER_CONFIG without the Compose plugin.
    docker_only = root / "docker-only-bin"
    docker_only.mkdir()
    (docker_only / "docker").symlink_to(shutil.which("docker"))
    empty_config = root / "empty-docker-config"
    empty_config.mkdir()
    without_compose = {**stack.env(), "PATH": f"{docker_only}{os.pathsep}{sandbox.no_docker_bin}",
                       "DOCKER_CONFIG": str(empty_config)}
    if subprocess.run(["docker", "compose", "version"], env=without_compose, capture_output=True,
                      timeout=30).returncode == 0:
        unavailable("a system-wide Compose plugin is installed; cannot hide Compose from the scripts")
    backups = sorted((stack.root / "backups").iterdir())
    assert len(backups) == 1
    corrupt = stack.root / "backups" / "corrupt-copy"
    shutil.copytree(backups[0], corrupt)
    (corrupt / "redis.rdb").write_bytes((corrupt / "redis.rdb").read_bytes()[:-10])
    return {
        "sandbox": sandbox,
        "docker_only": docker_only,
        "empty_config": empty_config,
        "backup": str(backups[0]),
        "corrupt_backup": str(corrupt),
        "scratch": root / "scratch",
        "markers": root / "markers",
    }


@pytest.fixture
def busy_port():
    """A port on 127.0.0.1 that something else listens on."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    yield listener.getsockname()[1]
    listener.close()


def _environment(stack, case: Case, places, substitute) -> dict[str, str]:
    env = stack.env(**{key: substitute(value) for key, value in case.environment.items()})
    for name in case.unexport:
        env.pop(name, None)
    if case.docker == "missing":
        env["PATH"] = str(places["sandbox"].no_docker_bin)
    elif case.docker == "compose-missing":
        env.pop("COMPOSE_COMMAND", None)
        env["PATH"] = f"{places['docker_only']}{os.pathsep}{places['sandbox'].no_docker_bin}"
        env["DOCKER_CONFIG"] = str(places["empty_config"])
    elif case.docker == "daemon-down":
        env["DOCKER_HOST"] = f"unix://{places['scratch']}/no-daemon-here.sock"
    return env


def _write_env_file(stack, case: Case, substitute) -> None:
    path = stack.root / ".env.infra"
    if case.env_file is None:
        return
    if case.env_file == "missing":
        path.unlink()
    elif case.env_file == "empty":
        path.write_bytes(b"")
        path.chmod(0o600)
    elif case.env_file == "crlf":
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    else:
        set_env_values(stack, {key: None if value is None else substitute(value)
                               for key, value in case.env_file.items()})


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_is_refused_and_changes_nothing(stack, places, busy_port, figures, name):
    case = CASES[name]
    figures.count("hostile_input", "cases_tried")
    places["scratch"].mkdir(exist_ok=True)
    places["markers"].mkdir(exist_ok=True)
    marker = places["markers"] / f"{name}.injected"

    def substitute(text: str) -> str:
        return (text.replace("{marker}", str(marker)).replace("{busy_port}", str(busy_port))
                .replace("{backup}", places["backup"]).replace("{corrupt_backup}", places["corrupt_backup"])
                .replace("{scratch}", str(places["scratch"])))

    secrets = secrets_of(stack)
    original_env_file = (stack.root / ".env.infra").read_bytes()
    try:
        _write_env_file(stack, case, substitute)
        env = _environment(stack, case, places, substitute)
        files_before = tree_snapshot(stack.root.parent)
        scratch_before = tree_snapshot(places["scratch"])
        docker_before = docker_state(stack.project)
        began = time.monotonic()
        result = stack.script(case.script, *(substitute(arg) for arg in case.args), env=env, timeout=120)
        seconds = time.monotonic() - began

        assert result.returncode == case.status, str(result)
        for message in case.messages:
            assert substitute(message) in result.stderr, str(result)
        for message in case.stdout_messages:
            assert substitute(message) in result.stdout, str(result)
        if case.one_line:
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), f"expected one error line:\n{result}"
        assert "internal error" not in result.output, str(result)
        assert_no_secret(result.output, secrets, f"the output of {case.script}")
        assert not marker.exists(), "a shell fragment in an argument was run"
        assert tree_difference(files_before, tree_snapshot(stack.root.parent)) == [], "files changed"
        assert tree_difference(scratch_before, tree_snapshot(places["scratch"])) == [], "files changed"
        assert docker_state(stack.project) == docker_before, "something changed in Docker"
        assert seconds < 60, f"{case.script} took {seconds:.0f}s to refuse"
    finally:
        (stack.root / ".env.infra").write_bytes(original_env_file)
        (stack.root / ".env.infra").chmod(0o600)


def test_the_stack_is_healthy_and_its_data_intact_after_every_case(stack):
    checked = health_check(stack)
    assert checked.returncode == 0, str(checked)
    with clients.postgres(stack) as conn:
        assert "must survive every case" in clients.translation_texts(conn)
    assert clients.redis_client(stack).get("hostile:key") == "kept"


# --- A read-only or full data folder ----------------------------------------------------------


@pytest.fixture
def mount(request):
    """Mounts things over parts of a repository copy (we run as root) and
    unmounts them afterwards, before the stack is destroyed."""
    # Without the marker, the test runs as the CI user and fails there only.
    if request.node.get_closest_marker("needs_root") is None:
        pytest.fail(f"{request.node.name} mounts: mark it @pytest.mark.needs_root(\"why\")", pytrace=False)
    mounted: list[Path] = []

    def do_mount(*args: str, target: Path) -> None:
        done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            unavailable(f"cannot mount here (root needed): {done.stderr.strip()}")
        mounted.append(target)

    yield do_mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=30)


@pytest.mark.needs_root("bind-mounts the data folder read-only")
def test_read_only_volumes_folder_is_refused_and_starts_nothing(make_stack, compose_v2, mount, figures):
    figures.count("hostile_input", "cases_tried")
    stack = make_stack(compose_v2)
    script_ok(stack, "init-env.sh")
    volumes = stack.root / "volumes"
    mount("--bind", str(volumes), target=volumes)
    mount("-o", "remount,bind,ro", target=volumes)
    files_before = tree_snapshot(stack.root.parent)
    docker_before = docker_state(stack.project)

    result = stack.script("start.sh", "--timeout", "60", timeout=180)

    assert result.returncode == 1, str(result)
    # The daemon's reason comes through Compose's output, on stdout.
    assert "volumes" in result.output and "read-only" in result.output.lower(), str(result)
    assert "internal error" not in result.output, str(result)
    assert_no_secret(result.output, secrets_of(stack), "the output of start.sh")
    assert tree_difference(files_before, tree_snapshot(stack.root.parent)) == []
    assert docker_state(stack.project) == docker_before, \
        "start.sh left containers or a network behind although volumes/ cannot be written"


# Start-up to the first crash and Docker's first restart take a few seconds;
# waiting for the 60 s timeout would take 60.
FAIL_FAST_SECONDS = 30


@pytest.mark.needs_root("mounts a 1 MB tmpfs as the postgres data folder")
@pytest.mark.serial  # "fails fast" is a time bound: not on a machine busy with other stacks
def test_full_volumes_folder_fails_fast_with_postgres_diagnostics(make_stack, compose_v2, mount, figures):
    figures.count("hostile_input", "cases_tried")
    stack = make_stack(compose_v2)
    script_ok(stack, "init-env.sh")
    data = stack.root / "volumes" / "postgres"
    data.mkdir()
    mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=data)

    began = time.monotonic()
    result = stack.script("start.sh", "--timeout", "60", timeout=180)
    seconds = time.monotonic() - began

    assert result.returncode == 1, str(result)
    # PostgreSQL cannot initialise on a full disk and exits; Docker restarts
    # it. With the whole stack, Compose's `up` already fails on it (langfuse
    # waits for a healthy postgres); start.sh must stop there too, long
    # before its 60 s timeout.
    assert "timed out" not in result.stderr, str(result)
    assert seconds < FAIL_FAST_SECONDS, f"start.sh took {seconds:.0f}s to give up (--timeout 60)"
    assert "--- postgres ---" in result.stderr, str(result)
    assert "No space left on device" in result.stderr, str(result)
    assert "./scripts/logs.sh postgres" in result.stderr
    assert "internal error" not in result.output, str(result)
    assert_no_secret(result.output, secrets_of(stack), "the output of start.sh")
    state = docker_state(stack.project)
    figures.record("full_volumes_folder", start_seconds=round(seconds, 1),
                   containers_left=[f"{name.lstrip('/')} {status}" for name, _, status, *_ in state["containers"]])


@pytest.mark.needs_root("mounts a 1 MB tmpfs as the postgres data folder")
@pytest.mark.serial  # "long before the timeout" is a time bound
def test_a_crash_looping_postgres_is_called_crashing_long_before_the_timeout(make_stack, compose_v2, mount,
                                                                              figures):
    """start.sh postgres alone: nothing waits on postgres in `up`, so only
    start.sh's own wait can notice that it crashes and Docker restarts it."""
    figures.count("hostile_input", "cases_tried")
    stack = make_stack(compose_v2)
    script_ok(stack, "init-env.sh")
    data = stack.root / "volumes" / "postgres"
    data.mkdir()
    mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=data)

    began = time.monotonic()
    result = stack.script("start.sh", "postgres", "--timeout", "60", timeout=180)
    seconds = time.monotonic() - began

    assert result.returncode == 1, str(result)
    assert "postgres restarted while starting: it is crashing" in result.stderr, str(result)
    assert "timed out" not in result.stderr, str(result)
    assert seconds < FAIL_FAST_SECONDS, f"start.sh took {seconds:.0f}s to notice the crash loop (--timeout 60)"
    assert "--- postgres ---" in result.stderr, str(result)
    assert "internal error" not in result.output, str(result)
    figures.record("crash_looping_postgres", start_seconds=round(seconds, 1))

"""Three readers of one env file: the scripts, Compose v2 and Compose v1.

Each returns a Reading: the variables it read in file order, or why it
could not read the file. Every reader runs with an empty environment (PATH
and HOME only), so nothing but the file decides the values.

- the scripts: tests/support/load_env.sh calls scripts/lib/env.sh's own
  load_env_file and prints what it exported (ScriptsReader keeps one such
  bash for many files);
- Compose v2: `docker compose --env-file FILE config --format json` over a
  compose file with two services: one puts each candidate variable into its
  environment through interpolation (the --env-file path), the other names
  FILE in `env_file:`, which lists every variable Compose found, whatever
  its name;
- Compose v1: the function docker-compose 1.29 reads --env-file with
  (compose.config.environment.env_vars_from_file), called in a long-lived
  interpreter of docker-compose's own Python, because starting
  docker-compose takes 1.5 s. test_env_differential checks that it gives
  what `docker-compose config` prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from .engine import REPO_ROOT

LOAD_ENV = REPO_ROOT / "tests" / "support" / "load_env.sh"
# What the interpolating service gets for a variable the file does not set.
UNSET = "__UNSET__"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Reading:
    env: dict[str, str | None] | None  # None: the file was refused
    error: str = ""

    @property
    def refused(self) -> bool:
        return self.env is None


def clean_env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **extra}


# --- The scripts -----------------------------------------------------------------


@dataclass(frozen=True)
class ScriptsReading(Reading):
    returncode: int = 0
    stderr: str = ""


def _scripts_reading(returncode: int, stdout: bytes, stderr_bytes: bytes) -> ScriptsReading:
    stderr = stderr_bytes.decode("utf-8", "replace")
    if returncode != 0:
        return ScriptsReading(None, stderr.strip(), returncode, stderr)
    env: dict[str, str | None] = {}
    for item in stdout.split(b"\0")[:-1]:
        key, _, value = item.partition(b"=")
        env[key.decode()] = value.decode("utf-8", "surrogateescape")
    return ScriptsReading(env, "", 0, stderr)


# A UTF-8 locale, as most users have: the reader must match bytes anyway.
_SCRIPTS_ENV = {"LC_ALL": "C.UTF-8"}


def read_with_scripts(path: Path) -> ScriptsReading:
    result = subprocess.run(["bash", str(LOAD_ENV), str(path)], capture_output=True, timeout=60,
                            env=clean_env(**_SCRIPTS_ENV))
    return _scripts_reading(result.returncode, result.stdout, result.stderr)


class ScriptsReader:
    """One bash that reads many files with the scripts' reader, each in a
    subshell (starting bash and sourcing the library for every file would
    take most of the test's time)."""

    def __init__(self):
        self.process = subprocess.Popen(["bash", str(LOAD_ENV), "--serve"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                        env=clean_env(**_SCRIPTS_ENV))

    def read(self, path: Path) -> ScriptsReading:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()
        status = self.process.stdout.readline()
        assert status, "the scripts' reader stopped"
        out, err = Path(f"{path}.out"), Path(f"{path}.err")
        reading = _scripts_reading(int(status), out.read_bytes(), err.read_bytes())
        out.unlink()
        err.unlink()
        return reading

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)


# --- Compose v2 --------------------------------------------------------------------


def candidate_keys(data: bytes, *more: str) -> list[str]:
    """Every word of DATA that could be a variable name, and MORE: a superset
    of the variables any reader can find in it."""
    words = set(IDENTIFIER.findall(data.decode("utf-8", "replace"))) | set(more)
    return sorted(words)


def compose_file(keys: list[str], env_file: str) -> str:
    lines = ["services:", "  interpolated:", "    image: none", "    environment:"]
    lines += [f"      {key}: ${{{key}-{UNSET}}}" for key in keys] or ["      UNUSED_: x"]
    lines += ["  listed:", "    image: none", "    env_file: " + env_file]
    return "\n".join(lines) + "\n"


def _unescape(value: str | None) -> str | None:
    # `config` writes each $ as $$, so that its output is a valid compose file.
    return None if value is None else value.replace("$$", "$")


@dataclass(frozen=True)
class ComposeV2Reading(Reading):
    interpolated: dict[str, str] | None = None  # candidate key -> value or UNSET


def read_with_compose_v2(path: Path, keys: list[str]) -> ComposeV2Reading:
    folder = path.parent
    (folder / "compose.yml").write_text(compose_file(keys, path.name))
    result = subprocess.run(
        ["docker", "compose", "--project-name", "envdiff", "-f", "compose.yml", "--env-file", path.name,
         "config", "--format", "json"],
        cwd=folder, capture_output=True, text=True, timeout=60, env=clean_env(),
    )
    if result.returncode != 0:
        return ComposeV2Reading(None, result.stderr.strip())
    services = json.loads(result.stdout)["services"]
    listed = {key: _unescape(value) for key, value in (services["listed"].get("environment") or {}).items()}
    interpolated = {key: _unescape(value) for key, value in (services["interpolated"].get("environment") or {}).items()
                    if key in keys}
    return ComposeV2Reading(listed, "", interpolated)


# --- Compose v1 --------------------------------------------------------------------

_V1_SERVER = r"""
import json, logging, os, sys
os.environ.clear()
from compose.config.environment import env_vars_from_file

class Collect(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())

logging.getLogger().addHandler(Collect())
for line in sys.stdin:
    warnings = []
    try:
        reply = {"env": dict(env_vars_from_file(line.rstrip("\n")))}
    except Exception as error:
        reply = {"error": f"{type(error).__name__}: {error}"}
    reply["warnings"] = warnings
    print(json.dumps(reply), flush=True)
"""


def compose_v1_python() -> str | None:
    """The interpreter docker-compose 1.x runs on, when it is a Python script."""
    program = shutil.which("docker-compose")
    if program is None:
        return None
    first = Path(program).read_bytes()[:200].split(b"\n", 1)[0]
    if not first.startswith(b"#!") or b"python" not in first:
        return None
    return first[2:].decode().strip().split()[0]


class ComposeV1Reader:
    """One interpreter that reads env files with Compose v1's own code."""

    def __init__(self, python: str):
        self.process = subprocess.Popen([python, "-c", _V1_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, env=clean_env())

    def read(self, path: Path) -> Reading:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the Compose v1 reader stopped"
        reply = json.loads(line)
        if "error" in reply:
            return Reading(None, reply["error"])
        return Reading(reply["env"], "; ".join(reply["warnings"]))

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)


def read_with_compose_v1_cli(path: Path, keys: list[str]) -> dict[str, str]:
    """What `docker-compose --env-file PATH config` puts into the
    interpolated service (slow: for cross-checking ComposeV1Reader)."""
    folder = path.parent
    (folder / "compose.yml").write_text(compose_file(keys, path.name))
    result = subprocess.run(
        ["docker-compose", "--project-name", "envdiff", "-f", "compose.yml", "--env-file", path.name, "config"],
        cwd=folder, capture_output=True, text=True, timeout=120, env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    environment = yaml.safe_load(result.stdout)["services"]["interpolated"]["environment"]
    return {key: _unescape(str(value)) for key, value in environment.items() if key in keys}

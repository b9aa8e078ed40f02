"""Helpers of the e2e failure-path tests: what the engine says about a
stack's containers, editing .env.infra, a script on a pseudo-terminal,
Langfuse traces through the public API, and backup folders."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from support.engine import project_containers, run
from support.stack import Result, Stack

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def script_ok(stack: Stack, *args: str, timeout: float = 400) -> Result:
    result = stack.script(*args, timeout=timeout)
    assert result.returncode == 0, str(result)
    return result


# --- The engine's view ---------------------------------------------------------


def containers(stack: Stack) -> dict[str, tuple[str, str, int, str]]:
    """Each service's container as (id, StartedAt, RestartCount, status):
    a container that was recreated or restarted no longer compares equal."""
    ids = project_containers(stack.project)
    if not ids:
        return {}
    found = {}
    for item in json.loads(run(["docker", "inspect", *ids]).stdout):
        service = item["Config"]["Labels"]["com.docker.compose.service"]
        found[service] = (item["Id"], item["State"]["StartedAt"], item["RestartCount"], item["State"]["Status"])
    return found


def container_env(stack: Stack, service: str) -> dict[str, str]:
    """The environment the engine gave SERVICE's container."""
    inspected = run(["docker", "inspect", "--format", "{{json .Config.Env}}", stack.container(service)])
    assert inspected.returncode == 0, inspected.stderr
    return dict(entry.split("=", 1) for entry in json.loads(inspected.stdout))


# --- .env.infra ------------------------------------------------------------------


def set_env_value(stack: Stack, key: str, value: str) -> None:
    """Replaces KEY's line in .env.infra, as a person editing it would."""
    path = stack.root / ".env.infra"
    text, count = re.subn(rf"^{key}=.*$", f"{key}={value}", path.read_text(), flags=re.M)
    assert count == 1, f"{key} is not in .env.infra"
    path.write_text(text)


# --- A person at a terminal --------------------------------------------------------


def run_on_terminal(stack: Stack, script: str, *args: str, answer: str, prompt: str = "Type 'yes'",
                    timeout: float = 300) -> Result:
    """Runs ./scripts/SCRIPT with stdin, stdout and stderr on a new
    pseudo-terminal, types ANSWER and Enter once PROMPT shows, and returns
    what the terminal showed (colour codes removed) as stdout."""
    command = [str(stack.root / "scripts" / script), *args]
    controller, terminal = os.openpty()
    process = subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=terminal, env=stack.env(),
                               cwd=stack.root.parent, start_new_session=True)
    os.close(terminal)
    shown, answered = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if not ready:
                if process.poll() is not None and not answered:
                    break
                continue
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: every process left the terminal
                break
            if not chunk:
                break
            shown += chunk
            if not answered and prompt.encode() in shown:
                os.write(controller, answer.encode() + b"\n")
                answered = True
        process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait()
        os.close(controller)
    text = ANSI.sub("", shown.decode(errors="replace")).replace("\r\n", "\n")
    assert answered, f"{script} never showed {prompt!r}:\n{text}"
    return Result(command, process.returncode, text, "")


# --- Langfuse ----------------------------------------------------------------------


def _langfuse_request(stack: Stack, path: str, body: dict | None = None) -> tuple[int, dict]:
    env = stack.env_file()
    token = base64.b64encode(f"{env['LANGFUSE_PUBLIC_KEY']}:{env['LANGFUSE_SECRET_KEY']}".encode()).decode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.ports['langfuse']}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, {}


def add_trace(stack: Stack, name: str) -> str:
    """Sends one trace through Langfuse's ingestion API (as the SDK does)
    and returns its id once Langfuse serves it back."""
    trace_id = str(uuid.uuid4())
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    status, answer = _langfuse_request(stack, "/api/public/ingestion", {"batch": [{
        "id": str(uuid.uuid4()), "type": "trace-create", "timestamp": now,
        "body": {"id": trace_id, "name": name, "timestamp": now}}]})
    assert status in (200, 207) and not answer.get("errors"), (status, answer)
    # Ingestion may be processed after the answer: wait until it reads back.
    deadline = time.monotonic() + 30
    while trace_status(stack, trace_id) != 200:
        assert time.monotonic() < deadline, f"trace {name} never became readable"
        time.sleep(0.5)
    return trace_id


def trace_status(stack: Stack, trace_id: str) -> int:
    """The HTTP status Langfuse answers for the trace: 200 there, 404 gone."""
    return _langfuse_request(stack, f"/api/public/traces/{trace_id}")[0]


# --- Backups -----------------------------------------------------------------------


def only_backup(stack: Stack) -> Path:
    folders = sorted((stack.root / "backups").iterdir())
    assert len(folders) == 1, folders
    return folders[0]


def backup_with(stack: Stack, original: Path, name: str, replacements: dict[str, bytes]) -> Path:
    """A copy of backup ORIGINAL with some files replaced and its MANIFEST
    updated to match, so it passes the checksum check: what a backup made
    elsewhere, and sound as far as its checksums go, looks like."""
    copy = original.parent / name
    shutil.copytree(original, copy)
    manifest = (copy / "MANIFEST").read_text()
    for file, data in replacements.items():
        (copy / file).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        manifest, count = re.subn(rf"^sha256 [0-9a-f]{{64}} {re.escape(file)}$", f"sha256 {digest} {file}",
                                  manifest, flags=re.M)
        assert count == 1, f"{file} is not in the MANIFEST"
    (copy / "MANIFEST").write_text(manifest)
    return copy


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file under FOLDER with its bytes (readable as root or owner)."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}

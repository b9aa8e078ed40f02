"""From clone to a working TransBot, then a backup and a restore.

A new developer runs start.sh, gets TransBot's settings from app-env.sh, and
the example app writes a translation, a cache key and a Langfuse trace with
them. Then the data is backed up, changed and deleted, and restored; a
damaged backup is refused without touching the live data. Each test is one
step and relies on the ones before it; the whole module runs once per
Compose version.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from support import clients
from support.engine import REPO_ROOT

from .common import containers, folder_files

EXAMPLE = REPO_ROOT / "examples" / "transbot_smoke.py"


def test_start_brings_up_a_fresh_clone(journey):
    result = journey.script("start.sh")
    assert result.returncode == 0, result


def test_app_env_prints_what_transbot_needs(journey):
    result = journey.script("app-env.sh")
    assert result.returncode == 0, result
    settings = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert set(settings) == {"DATABASE_URL", "REDIS_URL", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY",
                             "LANGFUSE_HOST"}
    env = journey.env_file()
    url = urllib.parse.urlsplit(settings["DATABASE_URL"])
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", journey.ports["postgres"], "/transbot")
    assert urllib.parse.unquote(url.password) == env["POSTGRES_PASSWORD"]
    assert settings["LANGFUSE_HOST"] == f"http://localhost:{journey.ports['langfuse']}"
    assert settings["LANGFUSE_PUBLIC_KEY"] == env["LANGFUSE_PUBLIC_KEY"]


def test_app_env_updates_its_block_in_an_existing_file(journey, tmp_path):
    target = tmp_path / ".env"
    target.write_text("OPENAI_API_KEY=sk-mine\n# >>> transbot-infra >>> old\nDATABASE_URL=stale\n"
                      "# <<< transbot-infra <<<\nSTREAMLIT_PORT=8501\n")
    result = journey.script("app-env.sh", "--write", str(target))
    assert result.returncode == 0, result
    text = target.read_text()
    assert text.startswith("OPENAI_API_KEY=sk-mine\n") and text.endswith("STREAMLIT_PORT=8501\n")
    assert "stale" not in text and text.count("DATABASE_URL=") == 1
    again = journey.script("app-env.sh", "--write", str(target))
    assert again.returncode == 0 and target.read_text() == text


def test_the_example_app_writes_a_row_a_cache_key_and_a_trace(journey, tmp_path):
    app_env = tmp_path / ".env.transbot"
    assert journey.script("app-env.sh", "--write", str(app_env)).returncode == 0
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LANGFUSE_", "DATABASE_"))}
    completed = subprocess.run([sys.executable, str(EXAMPLE), "--env-file", str(app_env)],
                               capture_output=True, text=True, timeout=120, env=env)
    assert completed.returncode == 0, completed.stderr
    written = json.loads(completed.stdout)
    with clients.postgres(journey) as conn:
        trace_id = conn.execute("SELECT langfuse_trace_id FROM transbot.translations WHERE id = %s",
                                (written["translation_id"],)).fetchone()[0]
    assert trace_id == written["trace_id"]
    assert clients.redis_client(journey).get(written["cache_key"]) == "[de] Good morning, how are you?"
    trace = _langfuse_get(journey, f"/api/public/traces/{trace_id}")
    assert trace["id"] == trace_id and trace["name"] == "translate"


def test_langfuse_refuses_requests_without_valid_keys(journey):
    for auth in (None, ("pk-lf-wrong", "sk-lf-wrong")):
        request = urllib.request.Request(f"http://127.0.0.1:{journey.ports['langfuse']}/api/public/projects")
        if auth:
            request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("Langfuse answered without valid keys")
        except urllib.error.HTTPError as error:
            assert error.code == 401


def test_backup_writes_a_checked_folder(journey):
    with clients.postgres(journey) as conn:
        clients.add_translation(conn, "backup@example.com", "keep me")
    clients.redis_client(journey).set("cache:keep", "yes")
    result = journey.script("backup.sh")
    assert result.returncode == 0, result
    folders = sorted((journey.root / "backups").iterdir())
    assert len(folders) == 1
    names = {path.name for path in folders[0].iterdir()}
    assert names == {"MANIFEST", "postgres-transbot.dump", "postgres-langfuse.dump", "redis.rdb"}
    assert oct(folders[0].stat().st_mode & 0o777) == "0o700"


def test_restore_brings_back_every_row_and_key(journey):
    backup = _only_backup(journey)
    with clients.postgres(journey) as conn:
        conn.execute("DELETE FROM transbot.translations")
        clients.add_translation(conn, "later@example.com", "written after the backup")
    cache = clients.redis_client(journey)
    cache.delete("cache:keep")
    cache.set("cache:later", "1")
    result = journey.script("restore.sh", str(backup), "--yes")
    assert result.returncode == 0, result
    with clients.postgres(journey) as conn:
        texts = clients.translation_texts(conn)
    assert "keep me" in texts and "written after the backup" not in texts
    cache = clients.redis_client(journey)
    assert cache.get("cache:keep") == "yes" and cache.get("cache:later") is None
    assert journey.script("health-check.sh").returncode == 0


def test_a_truncated_dump_is_refused_and_live_data_untouched(journey):
    backup = _only_backup(journey)
    damaged = backup.parent / "damaged"
    damaged.mkdir()
    for path in backup.iterdir():
        (damaged / path.name).write_bytes(path.read_bytes())
    dump = damaged / "postgres-transbot.dump"
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    with clients.postgres(journey) as conn:
        clients.add_translation(conn, "live@example.com", "live row")
        before = clients.translation_texts(conn)
    result = journey.script("restore.sh", str(damaged), "--yes")
    assert result.returncode == 1, result
    assert "corrupt or truncated" in result.stderr
    with clients.postgres(journey) as conn:
        assert clients.translation_texts(conn) == before


def test_restore_without_a_terminal_or_yes_changes_nothing(journey):
    backup = _only_backup(journey)
    with clients.postgres(journey) as conn:
        rows_before = clients.translation_texts(conn)
    cache = clients.redis_client(journey)
    keys_before = {key: cache.get(key) for key in cache.keys("*")}
    files_before, containers_before = folder_files(journey.root / "backups"), containers(journey)

    result = journey.script("restore.sh", str(backup))

    assert result.returncode == 2, result
    assert "--yes" in result.stderr
    assert containers(journey) == containers_before, "something was stopped or restarted"
    with clients.postgres(journey) as conn:
        assert clients.translation_texts(conn) == rows_before
    cache = clients.redis_client(journey)
    assert {key: cache.get(key) for key in cache.keys("*")} == keys_before
    assert folder_files(journey.root / "backups") == files_before


def test_a_password_changed_after_initialisation_is_detected_and_fixable(journey):
    env_path = journey.root / ".env.infra"
    original = env_path.read_text()
    env_path.write_text(original.replace(f"POSTGRES_PASSWORD={journey.env_file()['POSTGRES_PASSWORD']}",
                                         "POSTGRES_PASSWORD=changed-after-init-123"))
    result = journey.script("start.sh")
    assert result.returncode == 1, result
    assert "POSTGRES_PASSWORD" in result.stderr and "apply-schema.sh" in result.stderr
    fixed = journey.script("apply-schema.sh")
    assert fixed.returncode == 0, fixed
    assert journey.script("start.sh").returncode == 0
    with clients.postgres(journey) as conn:
        assert "live row" in clients.translation_texts(conn)


def _only_backup(journey) -> Path:
    folders = [path for path in (journey.root / "backups").iterdir() if path.name != "damaged"]
    assert len(folders) == 1
    return folders[0]


def _langfuse_get(journey, path: str) -> dict:
    env = journey.env_file()
    token = base64.b64encode(f"{env['LANGFUSE_PUBLIC_KEY']}:{env['LANGFUSE_SECRET_KEY']}".encode()).decode()
    request = urllib.request.Request(f"http://127.0.0.1:{journey.ports['langfuse']}{path}",
                                     headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)

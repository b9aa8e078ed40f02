"""docker-compose.yml is valid for both Compose versions and safe by default."""

import os
import re
import subprocess

import pytest
import yaml

from support.engine import unavailable
from support.engine import REPO_ROOT, compose_variants

COMPOSE_YML = REPO_ROOT / "docker-compose.yml"
EXAMPLE = REPO_ROOT / ".env.infra.example"


def compose_file() -> dict:
    return yaml.safe_load(COMPOSE_YML.read_text())


def example_variables() -> dict[str, str]:
    values = {}
    for line in EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_compose_config_accepts_the_file_with_the_example_env(version, tmp_path):
    found = compose_variants()[version]
    if isinstance(found, str):
        unavailable(f"Compose {version}: {found}")
    result = subprocess.run(
        [*found.command, "--project-name", "transbot", "--env-file", str(EXAMPLE), "-f", str(COMPOSE_YML),
         "config", "-q"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_a_missing_secret_stops_compose_with_its_name(version, tmp_path):
    found = compose_variants()[version]
    if isinstance(found, str):
        unavailable(f"Compose {version}: {found}")
    env_file = tmp_path / "env"
    env_file.write_text("\n".join(line for line in EXAMPLE.read_text().splitlines()
                                  if not line.startswith("REDIS_PASSWORD=")) + "\n")
    result = subprocess.run(
        [*found.command, "--project-name", "transbot", "--env-file", str(env_file), "-f", str(COMPOSE_YML),
         "config", "-q"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "REDIS_PASSWORD" in result.stderr


def test_services_and_their_images_are_settings_with_todays_tags_as_defaults():
    services = compose_file()["services"]
    assert set(services) == {"postgres", "langfuse", "redis"}
    assert services["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:15-alpine}"
    assert services["langfuse"]["image"] == "${LANGFUSE_IMAGE:-langfuse/langfuse:2}"
    assert services["redis"]["image"] == "${REDIS_IMAGE:-redis:7-alpine}"


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_an_image_pinned_in_the_env_file_is_the_one_compose_runs(version, tmp_path):
    found = compose_variants()[version]
    if isinstance(found, str):
        unavailable(f"Compose {version}: {found}")
    env_file = tmp_path / "env"
    env_file.write_text(EXAMPLE.read_text().replace("POSTGRES_IMAGE=postgres:15-alpine",
                                                    "POSTGRES_IMAGE=postgres:15.10-alpine"))
    result = subprocess.run(
        [*found.command, "--project-name", "transbot", "--env-file", str(env_file), "-f", str(COMPOSE_YML),
         "config"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    images = {name: service["image"] for name, service in yaml.safe_load(result.stdout)["services"].items()}
    assert images == {"postgres": "postgres:15.10-alpine", "langfuse": "langfuse/langfuse:2", "redis": "redis:7-alpine"}


def test_nothing_that_compose_v1_or_old_engines_reject():
    data = compose_file()
    assert "name" not in data, "top-level name: is rejected by Compose v1"
    for name, service in data["services"].items():
        assert "start_interval" not in service.get("healthcheck", {}), name


def test_every_port_binds_to_loopback_by_default():
    for name, service in compose_file()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), f"{name}: {port}"


def test_every_service_has_a_truthful_healthcheck():
    services = compose_file()["services"]
    postgres = " ".join(services["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in postgres and "-h 127.0.0.1" in postgres and "-U" in postgres and "-d" in postgres
    redis = services["redis"]["healthcheck"]["test"]
    assert "-e" in redis and "ping" in redis and "-a" not in redis
    assert services["redis"]["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD")
    langfuse = services["langfuse"]["healthcheck"]["test"]
    assert "wget" in langfuse and "http://127.0.0.1:3000/api/public/health" in langfuse
    assert services["langfuse"]["environment"]["HOSTNAME"] == "0.0.0.0"
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert "start_period" in service["healthcheck"], name
    assert services["langfuse"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_secret_is_required_with_a_message():
    text = COMPOSE_YML.read_text()
    for secret in ("POSTGRES_PASSWORD", "LANGFUSE_DB_PASSWORD", "LANGFUSE_SECRET", "LANGFUSE_SALT",
                   "LANGFUSE_ENCRYPTION_KEY", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY",
                   "LANGFUSE_ADMIN_PASSWORD", "REDIS_PASSWORD"):
        uses = re.findall(r"\$\{" + secret + r"(:\?[^}]*|:-[^}]*)?\}", text)
        assert uses, f"{secret} is not used"
        assert all(use.startswith(":?") for use in uses), f"{secret} is not required everywhere"


def test_every_variable_the_compose_file_reads_is_in_the_example():
    active = "\n".join(line for line in COMPOSE_YML.read_text().splitlines() if not line.lstrip().startswith("#"))
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", active))
    missing = used - set(example_variables())
    assert not missing, f"not in .env.infra.example: {sorted(missing)}"


def test_the_example_marks_every_secret_as_a_placeholder():
    values = example_variables()
    assert values["POSTGRES_USER"] == "transbot_user" and values["POSTGRES_DB"] == "transbot"
    for secret in ("POSTGRES_PASSWORD", "LANGFUSE_SECRET", "LANGFUSE_SALT", "REDIS_PASSWORD"):
        assert values[secret] == "change-me"


def test_redis_gets_its_password_from_the_environment_with_aof_on():
    redis = compose_file()["services"]["redis"]
    command = redis["command"]
    assert isinstance(command, list)
    assert not any("PASSWORD" in str(word) or "requirepass" in str(word) for word in command)
    assert command[:2] == ["sh", "/usr/local/bin/transbot-redis-server"]
    assert "./services/redis/redis-server.sh:/usr/local/bin/transbot-redis-server:ro" in redis["volumes"]
    assert redis["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "${REDIS_APPENDFSYNC:-everysec}"


def test_data_lives_in_bind_mounts_under_volumes():
    services = compose_file()["services"]
    assert "./volumes/postgres:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "./volumes/redis:/data" in services["redis"]["volumes"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith("./"), f"{name} mounts {source} from outside the repository"
        assert not service.get("privileged"), name
        assert "cap_add" not in service and "network_mode" not in service and "pid" not in service, name


def test_the_fast_overlay_probes_every_service_quickly_while_it_starts():
    # The fast path's promise: every 250 ms while a container starts, every
    # 60 s once it is healthy, for every service with a healthcheck.
    services = yaml.safe_load(COMPOSE_YML.read_text())["services"]
    overlay = yaml.safe_load((REPO_ROOT / "services" / "compose" / "fast-healthchecks.yml").read_text())["services"]
    checked = sorted(name for name, service in services.items() if "healthcheck" in service)
    assert sorted(overlay) == checked
    for name in checked:
        assert overlay[name]["healthcheck"] == {"start_interval": "250ms", "interval": "60s"}, name

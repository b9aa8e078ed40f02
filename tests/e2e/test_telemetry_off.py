"""Telemetry is off (README, Langfuse: "Telemetry is off."): the compose
file says so, with either Compose version, and the running Langfuse
container has TELEMETRY_ENABLED=false in its environment."""

from __future__ import annotations

import yaml

from .common import container_env, script_ok


def test_compose_config_turns_langfuse_telemetry_off(make_stack, compose):
    stack = make_stack(compose)
    script_ok(stack, "init-env.sh")
    config = stack.compose_cli("config")
    assert config.returncode == 0, config.stderr
    environment = yaml.safe_load(config.stdout)["services"]["langfuse"]["environment"]
    if isinstance(environment, list):  # Compose v1 may print KEY=value entries
        environment = dict(entry.split("=", 1) for entry in environment)
    assert str(environment.get("TELEMETRY_ENABLED")).lower() == "false", environment.get("TELEMETRY_ENABLED")


def test_the_running_langfuse_container_has_telemetry_off(make_stack, compose_v2):
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh", "langfuse")
    assert container_env(stack, "langfuse").get("TELEMETRY_ENABLED") == "false"

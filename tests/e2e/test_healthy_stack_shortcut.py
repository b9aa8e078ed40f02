"""start.sh on a stack that already runs healthy, on the real engine with
Compose v2: nothing changed → it answers without running Compose at all;
each kind of change that makes Compose recreate a container → the normal
path runs `up`, which recreates it, and the next start.sh answers at once
again.

Compose runs through a wrapper named by COMPOSE_COMMAND that logs each call,
so "Compose was not run" is seen, not inferred from timing. Each test is one
step and relies on the ones before it (the stack is started by the first).
"""

from __future__ import annotations

import pytest

from support.engine import STANDIN_IMAGES, STANDIN_SECOND_BUILDS, run
from support.stack import Stack

from .common import container_env, containers, set_env_value

WRAPPER = '#!/bin/sh\nprintf "%s\\n" "$*" >>"$(dirname "$0")/compose.log"\nexec docker compose "$@"\n'
NOTHING_TO_START = "nothing to start"


@pytest.fixture(scope="module")
def stack(engine, images, compose_v2):
    stack = Stack.create(compose_v2, images)
    wrapper = stack.root.parent / "compose-logged"
    wrapper.write_text(WRAPPER)
    wrapper.chmod(0o755)
    stack.extra_env["COMPOSE_COMMAND"] = str(wrapper)
    # An image tag of this stack's own, for the retag step.
    stack.own_tag = f"transbot-test-retag/redis:{stack.project}"
    yield stack
    run(["docker", "image", "rm", stack.own_tag])  # the tag only: the image keeps its own
    stack.destroy()


def compose_calls(stack: Stack) -> list[str]:
    """The Compose command lines run since the last call, one a string."""
    log = stack.root.parent / "compose.log"
    calls = log.read_text().splitlines() if log.exists() else []
    log.write_text("")
    return calls


def ran_up(stack: Stack) -> bool:
    return any(" up " in f" {call} " for call in compose_calls(stack))


def start(stack: Stack, **env: str):
    compose_calls(stack)
    result = stack.script("start.sh", env=stack.env(**env))
    assert result.returncode == 0, result
    assert "TransBot infrastructure is up:" in result.stdout
    return result


def answers_at_once(stack: Stack, **env: str) -> None:
    """start.sh changes nothing and runs no Compose."""
    before = containers(stack)
    result = start(stack, **env)
    assert compose_calls(stack) == [], result
    assert NOTHING_TO_START in result.stdout
    assert containers(stack) == before


def recreates(stack: Stack, service: str, **env: str) -> None:
    """start.sh runs `up`, which replaces SERVICE's container."""
    before = containers(stack)[service][0]
    result = start(stack, **env)
    assert ran_up(stack), result
    assert NOTHING_TO_START not in result.stdout
    assert containers(stack)[service][0] != before, result


def edit(stack: Stack, name: str, old: str, new: str) -> None:
    path = stack.root / name
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} in {name}"
    path.write_text(text.replace(old, new))


def test_a_healthy_stack_started_unchanged_answers_without_compose(stack):
    start(stack)
    assert (stack.root / ".transbot.started").exists()
    answers_at_once(stack)


def test_an_edited_env_infra_value_recreates_the_service_that_uses_it(stack):
    set_env_value(stack, "REDIS_APPENDFSYNC", "always")
    recreates(stack, "redis")
    answers_at_once(stack)


def test_a_variable_exported_in_the_shell_recreates_the_service_that_uses_it(stack):
    recreates(stack, "redis", REDIS_APPENDFSYNC="no")
    answers_at_once(stack, REDIS_APPENDFSYNC="no")
    # Without it, .env.infra's value counts again.
    recreates(stack, "redis")


def test_a_variable_the_compose_files_do_not_use_changes_nothing(stack):
    answers_at_once(stack, SOME_UNRELATED_SETTING="1")


def test_an_edited_compose_file_recreates_the_service_it_changes(stack):
    edit(stack, "docker-compose.yml", "      REDISCLI_AUTH:", "      TRANSBOT_TEST_MARK: compose-file\n      REDISCLI_AUTH:")
    recreates(stack, "redis")
    assert container_env(stack, "redis")["TRANSBOT_TEST_MARK"] == "compose-file"
    answers_at_once(stack)


def test_an_edited_override_recreates_the_service_it_changes(stack):
    override = stack.root / "docker-compose.override.yml"
    override.write_text(override.read_text() + "    environment:\n      TRANSBOT_TEST_OVERRIDE: edited\n")
    recreates(stack, "redis")
    assert container_env(stack, "redis")["TRANSBOT_TEST_OVERRIDE"] == "edited"
    answers_at_once(stack)


EXTRA_SERVICE = """\
  extra:
    image: {image}
    entrypoint: ["sleep", "infinity"]
"""


def test_a_service_added_to_the_override_is_created(stack):
    override = stack.root / "docker-compose.override.yml"
    override.write_text(override.read_text() + EXTRA_SERVICE.format(image=stack.images["postgres"]))
    start(stack)
    assert ran_up(stack)
    assert "extra" in containers(stack)
    answers_at_once(stack)


def test_a_service_removed_from_the_override_is_named_by_the_normal_path(stack):
    edit(stack, "docker-compose.override.yml", EXTRA_SERVICE.format(image=stack.images["postgres"]), "")
    result = start(stack)
    assert ran_up(stack)
    assert "no longer in the configuration" in result.stderr and "extra" in result.stderr
    # Its container stays (Compose leaves it), so the stack is not as recorded.
    result = start(stack)
    assert ran_up(stack) and NOTHING_TO_START not in result.stdout
    run(["docker", "rm", "-f", stack.container("extra")])
    answers_at_once(stack)


def test_a_service_of_a_profile_is_created_when_the_profile_is_chosen(stack):
    override = stack.root / "docker-compose.override.yml"
    override.write_text(override.read_text() + EXTRA_SERVICE.format(image=stack.images["postgres"])
                        + "    profiles: [extras]\n")
    start(stack)
    assert "extra" not in containers(stack)
    answers_at_once(stack)
    start(stack, COMPOSE_PROFILES="extras")
    assert ran_up(stack)
    assert "extra" in containers(stack)
    answers_at_once(stack, COMPOSE_PROFILES="extras")
    edit(stack, "docker-compose.override.yml", EXTRA_SERVICE.format(image=stack.images["postgres"])
         + "    profiles: [extras]\n", "")
    run(["docker", "rm", "-f", stack.container("extra")])


def test_an_image_retagged_under_the_configured_name_recreates_the_service(stack):
    assert run(["docker", "tag", stack.images["redis"], stack.own_tag]).returncode == 0
    edit(stack, "docker-compose.override.yml", f"image: {stack.images['redis']}", f"image: {stack.own_tag}")
    recreates(stack, "redis")
    answers_at_once(stack)
    # The same name, another image: what a pull of a newer build does.
    newer = STANDIN_SECOND_BUILDS[STANDIN_IMAGES["redis"]]
    assert run(["docker", "tag", newer, stack.own_tag]).returncode == 0
    recreates(stack, "redis")
    answers_at_once(stack)


def test_a_start_after_stop_asks_compose_nothing_but_up(stack):
    # The record answers for Compose's version and the configuration: the
    # only Compose command of a warm start is `up` itself.
    script = stack.script("stop.sh")
    assert script.returncode == 0, script
    compose_calls(stack)
    result = start(stack)
    calls = compose_calls(stack)
    assert [call for call in calls if " up " in f" {call} "] and len(calls) == 1, calls
    assert NOTHING_TO_START not in result.stdout
    answers_at_once(stack)

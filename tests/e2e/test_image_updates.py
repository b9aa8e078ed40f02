"""A developer updates the stack's images when their tags move upstream (a
Redis security release under redis:7-alpine), on the real engine through
the real scripts, offline: the images come from a local registry on
loopback, under tags that play the official ones.

Journey: .env.infra names the three images in the registry; the stack runs
with data in PostgreSQL and Redis. New builds are pushed under the same
tags. `update-images.sh` backs up, pulls, recreates only the services whose
image changed, and reports old and new versions and digests; the data is
intact, and `--revert` goes back. A new image that never turns healthy is
replaced by the previous one again; an image of another major under the
tag is refused with nothing recreated.
"""

from __future__ import annotations

import itertools
import json

import pytest

from support.engine import (STANDIN_IMAGES, STANDIN_NEVER_HEALTHY_REDIS, STANDIN_POSTGRES_17,
                            STANDIN_SECOND_BUILDS, run)
from support.registry import LocalRegistry, local_registry
from support.stack import Stack

from .common import containers, only_backup, script_ok, set_env_value

# The tags each test's images are pushed under (a repository per test, so
# the tests' pushes never meet), as the official ones are named.
TAGS = {"postgres": "postgres:15-alpine", "langfuse": "langfuse:2", "redis": "redis:7-alpine"}
SETTINGS = {"postgres": "POSTGRES_IMAGE", "langfuse": "LANGFUSE_IMAGE", "redis": "REDIS_IMAGE"}
_repositories = itertools.count(1)


@pytest.fixture(scope="module")
def registry(engine, images):
    with local_registry() as started:
        yield started


class Upstream:
    """The registry as upstream: the tags a stack pulls, and new releases
    pushed under them."""

    def __init__(self, registry: LocalRegistry) -> None:
        self.registry = registry
        self.prefix = f"t{next(_repositories)}"

    def name_tag(self, service: str) -> str:
        return f"{self.prefix}/{TAGS[service]}"

    def reference(self, service: str) -> str:
        return self.registry.reference(self.name_tag(service))

    def release(self, service: str, image: str) -> str:
        return self.registry.push(image, self.name_tag(service))


def _image_id(reference: str) -> str:
    return run(["docker", "image", "inspect", "--format", "{{.Id}}", reference], check=True).stdout.strip()


def _running_image(stack: Stack, service: str) -> str:
    return run(["docker", "inspect", "--format", "{{.Image}}", stack.container(service)], check=True).stdout.strip()


def _stack_on_the_registry(make_stack, compose, registry: LocalRegistry) -> tuple[Stack, Upstream]:
    """A started stack whose three images come from .env.infra and the
    registry, as a user's come from Docker Hub."""
    upstream = Upstream(registry)
    for service in TAGS:
        upstream.release(service, STANDIN_IMAGES[service])
    stack = make_stack(compose)
    (stack.root / "docker-compose.override.yml").unlink()
    script_ok(stack, "init-env.sh")
    for service, setting in SETTINGS.items():
        set_env_value(stack, setting, upstream.reference(service))
    script_ok(stack, "start.sh")
    return stack, upstream


def _sql(stack: Stack, sql: str) -> str:
    env = stack.env_file()
    done = stack.docker_exec("postgres", "psql", "-v", "ON_ERROR_STOP=1", "-XAtq", "-U", env["POSTGRES_USER"],
                             "-d", env["POSTGRES_DB"], "-c", sql)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _redis(stack: Stack, *command: str) -> str:
    done = stack.docker_exec("redis", "redis-cli", *command, env={"REDISCLI_AUTH": stack.env_file()["REDIS_PASSWORD"]})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _add_data(stack: Stack) -> None:
    _sql(stack, "INSERT INTO transbot.users (external_id) VALUES ('update@example.com')")
    assert _redis(stack, "SET", "session:1", "kept") == "OK"


def _data_is_intact(stack: Stack) -> None:
    assert _sql(stack, "SELECT count(*) FROM transbot.users WHERE external_id = 'update@example.com'") == "1"
    assert _redis(stack, "GET", "session:1") == "kept"


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_an_update_recreates_only_the_changed_services_and_revert_goes_back(make_stack, compose_v2, registry):
    stack, upstream = _stack_on_the_registry(make_stack, compose_v2, registry)
    _add_data(stack)
    before = containers(stack)
    old_images = {service: _running_image(stack, service) for service in TAGS}
    new_digests = {service: upstream.release(service, STANDIN_SECOND_BUILDS[STANDIN_IMAGES[service]])
                   for service in ("redis", "langfuse")}

    result = script_ok(stack, "update-images.sh", timeout=900)

    after = containers(stack)
    assert after["postgres"] == before["postgres"], "postgres's image did not change: it must not be recreated"
    for service in ("redis", "langfuse"):
        assert after[service][0] != before[service][0]
        assert _running_image(stack, service) == _image_id(upstream.reference(service)) != old_images[service]
        line = next(line for line in result.stdout.splitlines() if line.strip().startswith(service + " "))
        assert new_digests[service][:19] in line, result
    langfuse_line = next(line for line in result.stdout.splitlines() if line.strip().startswith("langfuse "))
    assert "2.95.12-standin -> 2.95.12-standin.2" in langfuse_line, result
    assert "postgres is up to date" in result.stdout, result
    _data_is_intact(stack)
    assert only_backup(stack).is_dir()
    script_ok(stack, "health-check.sh")

    reverted = script_ok(stack, "update-images.sh", "--revert", timeout=900)

    assert "reverted" in reverted.stdout, reverted
    for service in TAGS:
        assert _running_image(stack, service) == old_images[service], service
        assert _image_id(upstream.reference(service)) == old_images[service], service
    assert containers(stack)["postgres"] == before["postgres"]
    _data_is_intact(stack)
    script_ok(stack, "health-check.sh")


def test_a_new_image_that_never_turns_healthy_is_replaced_by_the_previous_one(make_stack, compose_v2, registry):
    stack, upstream = _stack_on_the_registry(make_stack, compose_v2, registry)
    _add_data(stack)
    old_redis = _running_image(stack, "redis")
    upstream.release("redis", STANDIN_NEVER_HEALTHY_REDIS)

    result = stack.script("update-images.sh", "redis", "--timeout", "40", timeout=900)

    assert result.returncode == 1, result
    last = _error_lines(result.stderr)[-1]
    assert last.startswith("error: update failed (redis did not become healthy on the new image)"), result
    assert "the previous images are back under their tags and redis run on them again" in last, result
    assert _running_image(stack, "redis") == old_redis
    assert _image_id(upstream.reference("redis")) == old_redis
    assert {state[3] for state in containers(stack).values()} == {"running"}
    _data_is_intact(stack)
    script_ok(stack, "health-check.sh")


def test_an_image_of_another_major_under_the_tag_is_refused_with_nothing_recreated(make_stack, compose_v2, registry):
    stack, upstream = _stack_on_the_registry(make_stack, compose_v2, registry)
    before = containers(stack)
    old_postgres = _running_image(stack, "postgres")
    upstream.release("postgres", STANDIN_POSTGRES_17)

    result = stack.script("update-images.sh", timeout=900)

    assert result.returncode == 1, result
    (line,) = _error_lines(result.stderr)
    assert "postgres 17" in line and "postgres 15 runs" in line, line
    assert "upgrade-postgres" in line, line
    assert containers(stack) == before
    assert _image_id(upstream.reference("postgres")) == old_postgres
    script_ok(stack, "health-check.sh")

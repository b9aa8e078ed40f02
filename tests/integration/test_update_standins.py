"""What the update tests stand on: a second build of each stand-in (a newer
image for the same tag: another ID, the same contract), a test image whose
healthcheck never passes, and a local registry that serves whichever build
was pushed last under a tag, and leaves nothing behind."""

from __future__ import annotations

import json
import shlex

import pytest

from support.engine import (
    STANDIN_IMAGES,
    STANDIN_NEVER_HEALTHY_REDIS,
    STANDIN_SECOND_BUILDS,
    image_present,
)
from support.registry import local_registry

from .servers import ContainerPool, docker, healthcheck_command, redis_settings, wait_until

REVISION_LABEL = "org.transbot.standin.revision"
HASH_LABEL = "org.transbot.standin.hash"


def inspect(image: str) -> dict:
    result = docker("image", "inspect", image)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


@pytest.mark.parametrize("first", sorted(STANDIN_SECOND_BUILDS))
def test_a_second_build_is_another_image_with_the_same_contract(standins, first):
    second = STANDIN_SECOND_BUILDS[first]
    old, new = inspect(first), inspect(second)
    assert new["Id"] != old["Id"]
    assert (old["Config"]["Labels"][REVISION_LABEL], new["Config"]["Labels"][REVISION_LABEL]) == ("1", "2")
    # Everything a container runs with is the same; only the labels differ.
    for config in (old["Config"], new["Config"]):
        config.pop("Labels")
        config.pop("Image", None)
    assert new["Config"] == old["Config"]


def test_the_second_langfuse_build_reports_a_newer_version(standins):
    def version(image: str) -> str:
        result = docker("run", "--rm", "--network", "none", "--entrypoint", "python3", image, "-c",
                        "from standin.config import VERSION; print(VERSION)")
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    first = STANDIN_IMAGES["langfuse"]
    assert (version(first), version(STANDIN_SECOND_BUILDS[first])) == ("2.95.12-standin", "2.95.12-standin.2")


def health(container: str) -> str:
    result = docker("inspect", "--format", "{{.State.Health.Status}}", container)
    return result.stdout.strip()


@pytest.mark.parametrize(("image", "expected"), [
    (STANDIN_IMAGES["redis"], "healthy"),
    (STANDIN_NEVER_HEALTHY_REDIS, "unhealthy"),
], ids=["redis", "never-healthy"])
def test_the_never_healthy_test_image_fails_the_compose_healthcheck_and_stops_cleanly(standins, image, expected):
    """Run as Compose would run the redis service, with its healthcheck
    (checked every second here): the stand-in gets healthy, the test
    image stays running and becomes unhealthy, and a stop ends it at once
    (exit 0, not the kill after the stop timeout: 137)."""
    pool = ContainerPool({"redis": image})
    try:
        command, env, mounts = redis_settings({"REDIS_PASSWORD": "never-healthy-pw"})
        check = shlex.join(healthcheck_command("redis"))
        container = pool.run("redis-health", "redis", env=env, command=command, mounts=mounts, options=[
            "--health-cmd", check, "--health-interval", "1s", "--health-retries", "3", "--health-timeout", "5s"])
        wait_until(lambda: health(container.name) in ("healthy", "unhealthy"), 90, "a health verdict", container)
        assert health(container.name) == expected
        assert container.running()
        if expected == "unhealthy":
            assert "never-healthy TEST image: not starting sh" in container.logs()
            assert "never-healthy-pw" not in container.logs()
        stopped = docker("stop", "--time", "30", container.name)
        assert stopped.returncode == 0, stopped.stderr
        assert container.state() == ("exited", 0)
    finally:
        pool.remove_all()


def test_a_pull_from_the_local_registry_gets_the_build_pushed_last_under_the_tag(standins):
    first = STANDIN_IMAGES["postgres"]
    second = STANDIN_SECOND_BUILDS[first]
    # By ID: another session's build.sh may retag the stand-ins meanwhile.
    first_id, second_id = inspect(first)["Id"], inspect(second)["Id"]
    with local_registry() as registry:
        assert registry.address.startswith("127.0.0.1:")
        pushed_first = registry.push(first_id, "postgres:15-alpine")
        docker("image", "rm", registry.reference("postgres:15-alpine"))  # the pull must make it again
        pulled_first = registry.pull("postgres:15-alpine")
        assert pulled_first.digest == pushed_first == registry.manifest_digest("postgres:15-alpine")
        assert pulled_first.image_id == first_id

        # "A newer image for the same tag": the same pull now gets the second build.
        pushed_second = registry.push(second_id, "postgres:15-alpine")
        assert pushed_second != pushed_first
        pulled_second = registry.pull("postgres:15-alpine")
        assert pulled_second.digest == pushed_second == registry.manifest_digest("postgres:15-alpine")
        assert pulled_second.image_id == second_id != first_id
        address, container = registry.address, registry.container

    # Nothing of it is left: no container, no reference under its address;
    # the stand-ins it served are still there, untouched.
    assert docker("container", "inspect", container).returncode != 0
    listed = docker("image", "ls", "--digests", "--format", "{{.Repository}}")
    assert not [line for line in listed.stdout.splitlines() if line.startswith(address + "/")]
    assert image_present(first_id) and image_present(second_id)
    for image in (first_id, second_id):
        assert not [digest for digest in inspect(image)["RepoDigests"] if digest.startswith(address + "/")]

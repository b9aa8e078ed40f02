"""Deleting data, and a whole clone, on the real engine.

Journey: a developer symlinked volumes/redis to a folder on another disk;
reset.sh refuses it (Docker would follow the link and empty the target)
and the target keeps every byte. Another developer, a normal user in the
docker group, is done with a clone: the services' data belongs to the
containers' users (uid 70 and 999), so `rm -rf` alone is refused; the
README's sequence, ./scripts/stop.sh, ./scripts/reset.sh --yes, then
rm -rf, removes the whole clone.
"""

from __future__ import annotations

import os

from support import clients
from support.engine import project_containers, run, unavailable

from .common import script_ok


def test_reset_refuses_a_symlinked_data_folder_and_its_target_keeps_its_data(make_stack, compose_v2, tmp_path):
    stack = make_stack(compose_v2)
    target = tmp_path / "other-disk" / "redis"
    target.mkdir(parents=True)
    (target / "appendonly.aof").write_bytes(b"x" * 5_000_000)
    (stack.root / "volumes" / "redis").symlink_to(target)
    result = stack.script("reset.sh", "redis", "--yes")
    assert [path.name for path in target.iterdir()] == ["appendonly.aof"], result
    assert (target / "appendonly.aof").stat().st_size == 5_000_000
    assert result.returncode == 1, result
    assert f"volumes/redis is a symlink to {target}" in result.stderr, result
    assert project_containers(stack.project) == [], "nothing may run on it"


def test_a_developer_who_is_not_root_removes_a_clone_with_stop_reset_and_rm(make_stack, compose_v2):
    if os.geteuid() == 0:
        unavailable("removing a clone as its owner needs a user other than root, in the docker group: "
                    "run the suite as one (sudo TRANSBOT_TEST_USER=\"$USER\" ./tests/run.sh, as CI does)")
    stack = make_stack(compose_v2)
    script_ok(stack, "start.sh")
    clients.redis_client(stack).set("translation:cache", "kept until the clone goes")
    volumes = stack.root / "volumes"
    owners = {service: (volumes / service).stat().st_uid for service in ("postgres", "redis")}
    assert os.getuid() not in owners.values(), f"the data should belong to the containers' users: {owners}"

    script_ok(stack, "stop.sh")
    script_ok(stack, "reset.sh", "--yes")
    removed = run(["rm", "-rf", str(stack.root)], timeout=120)

    assert removed.returncode == 0, removed.stderr
    assert not stack.root.exists()

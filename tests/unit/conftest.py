"""Fixtures of the unit layer: the real scripts, a fake docker on PATH."""

from __future__ import annotations

import pytest

from support.fake_docker import DockerSandbox
from support.stack import copy_repository

from .harness import Harness


@pytest.fixture(scope="session")
def docker_sandbox(tmp_path_factory) -> DockerSandbox:
    """The fake docker and docker-compose, and a PATH without any Docker
    (built once: it links every program of the real PATH)."""
    return DockerSandbox.build(tmp_path_factory.mktemp("docker-sandbox"))


@pytest.fixture
def harness(tmp_path, docker_sandbox) -> Harness:
    """A fresh clone-like copy of the repository (no .env.infra, empty
    volumes/), a working directory outside it and an empty docker log."""
    repo = copy_repository(tmp_path / "repo")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    return Harness(repo, docker_sandbox, workdir, tmp_path / "docker-calls.jsonl")

"""A local container registry for the update tests: the registry:2 stand-in
(Debian's docker-registry, the CNCF distribution registry 2.8) on loopback.

The engine pulls from and pushes to it over plain HTTP without any daemon
setting: dockerd treats registries in 127.0.0.0/8 as insecure-allowed by
default (`docker info` lists 127.0.0.0/8 under "Insecure Registries").

    with local_registry() as registry:
        registry.push(STANDIN_IMAGES["postgres"], "postgres:15-alpine")
        image = registry.reference("postgres:15-alpine")  # 127.0.0.1:PORT/postgres:15-alpine

Everything it created goes when the block ends, whatever happened: the
registry's container and its anonymous volume (the pushed blobs), and every
local image reference under its address (127.0.0.1:PORT/...), whoever made
it (a test's push, a script's pull or tag). Images the references pointed
at stay when another tag holds them (the stand-ins), and go with their last
reference otherwise, as after any `docker image rm`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from .engine import PROJECT_PREFIX, STANDIN_REGISTRY, free_port, run

_counter = itertools.count(1)
# `docker push` ends with "<tag>: digest: sha256:<hex> size: <n>".
_PUSHED_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
# Asked for by the engine too: without it a registry answers with a
# converted schema 1 manifest and another digest.
_MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])


class RegistryError(AssertionError):
    pass


@dataclass(frozen=True)
class Pulled:
    image_id: str  # the local image ID (sha256:...)
    digest: str  # the manifest digest the registry served (sha256:...)


@dataclass
class LocalRegistry:
    container: str
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reference(self, name_tag: str) -> str:
        """The image reference of NAME:TAG in this registry."""
        return f"{self.address}/{name_tag}"

    def push(self, image: str, name_tag: str) -> str:
        """Pushes a local IMAGE as NAME:TAG (a second push under the same
        tag replaces what it points at, as a new upstream release does);
        returns the manifest digest the registry now serves for it."""
        target = self.reference(name_tag)
        _docker("tag", image, target)
        pushed = _docker("push", target, timeout=900)
        match = _PUSHED_DIGEST.search(pushed)
        if match is None:
            raise RegistryError(f"docker push {target} printed no digest:\n{pushed}")
        return match[1]

    def pull(self, name_tag: str) -> Pulled:
        """`docker pull` of NAME:TAG from this registry: the image it gave."""
        target = self.reference(name_tag)
        _docker("pull", target, timeout=900)
        image_id = _docker("image", "inspect", "--format", "{{.Id}}", target).strip()
        repo_digests = json.loads(_docker("image", "inspect", "--format", "{{json .RepoDigests}}", target))
        name = target.rpartition(":")[0]
        digests = [entry.partition("@")[2] for entry in repo_digests or [] if entry.startswith(name + "@")]
        if len(digests) != 1:
            raise RegistryError(f"{target} has {len(digests)} digests from {self.address}: {repo_digests}")
        return Pulled(image_id, digests[0])

    def manifest_digest(self, name_tag: str) -> str | None:
        """The digest the registry serves for NAME:TAG now (HTTP API), None
        when it has no such tag."""
        name, _, tag = name_tag.rpartition(":")
        request = urllib.request.Request(f"http://{self.address}/v2/{name}/manifests/{tag}", method="HEAD",
                                         headers={"Accept": _MANIFEST_TYPES})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.headers["Docker-Content-Digest"]
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def answers(self) -> bool:
        """The registry's API root answers 200 with its API version header."""
        try:
            with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2) as response:
                return response.headers.get("Docker-Distribution-Api-Version") == "registry/2.0"
        except (OSError, urllib.error.URLError):
            return False

    def local_references(self) -> list[str]:
        """Every local image reference under this registry's address: tags
        (ADDRESS/name:tag) and digests (ADDRESS/name@sha256:...)."""
        listed = _docker("image", "ls", "--digests", "--format", "{{.Repository}}\t{{.Tag}}\t{{.Digest}}")
        references = []
        for line in listed.splitlines():
            repository, tag, digest = line.split("\t")
            if not repository.startswith(self.address + "/"):
                continue
            if tag != "<none>":
                references.append(f"{repository}:{tag}")
            if digest != "<none>":
                references.append(f"{repository}@{digest}")
        return references

    def remove(self) -> None:
        """Removes the container, its volume and every local reference
        under the registry's address; fails naming any that stayed."""
        run(["docker", "rm", "-f", "-v", self.container], timeout=120)
        for reference in self.local_references():
            # Plain first: an image only this reference holds goes with it.
            # In use by a container (a test stack not yet removed), the
            # forced removal only drops the reference; the image stays.
            if run(["docker", "image", "rm", reference], timeout=120).returncode != 0:
                run(["docker", "image", "rm", "--force", reference], timeout=120)
        left = self.local_references()
        if left:
            raise RegistryError(f"could not remove the image references {left}")


def _docker(*args: str, timeout: float = 120) -> str:
    result = run(["docker", *args], timeout=timeout)
    if result.returncode != 0:
        raise RegistryError(f"docker {' '.join(args)} failed (exit {result.returncode}):\n{result.stderr}")
    return result.stdout


def start_registry(image: str = STANDIN_REGISTRY, timeout: float = 60) -> LocalRegistry:
    """Runs the registry on a free loopback port, labelled like a test stack
    so a later session removes it if this one is killed."""
    name = f"{PROJECT_PREFIX}{os.getpid()}xr{next(_counter)}-registry"
    registry = LocalRegistry(name, free_port())
    started = run(["docker", "run", "-d", "--name", name, "--label", f"com.docker.compose.project={name}",
                   "--label", "com.docker.compose.service=registry",
                   "-p", f"127.0.0.1:{registry.port}:5000", image], timeout=120)
    if started.returncode != 0:
        registry.remove()
        raise RegistryError(f"docker run {image} failed:\n{started.stderr}")
    deadline = time.monotonic() + timeout
    while not registry.answers():
        if time.monotonic() > deadline:
            logs = run(["docker", "logs", "--tail", "30", name]).stderr
            registry.remove()
            raise RegistryError(f"the registry {name} did not answer on {registry.address} in {timeout}s:\n{logs}")
        time.sleep(0.2)
    return registry


@contextlib.contextmanager
def local_registry(image: str = STANDIN_REGISTRY) -> Iterator[LocalRegistry]:
    """A registry for the duration of the block, removed with everything
    under its address afterwards."""
    registry = start_registry(image)
    try:
        yield registry
    finally:
        registry.remove()

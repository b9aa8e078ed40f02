"""The machine the run measured on, the engine's other load, and the images."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

from support.engine import PROJECT_PREFIX, Compose, compose_variants, run
from support.stack import SERVICES


def machine() -> dict[str, str]:
    info: dict[str, str] = {}
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    info["cpu"] = f"{cpu}, {os.cpu_count()} cores"
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        info["memory"] = f"{kib / 2**20:.1f} GiB"
    except (OSError, AttributeError):
        info["memory"] = "unknown"
    os_name = platform.system()
    try:
        os_name = re.search(r'^PRETTY_NAME="?([^"\n]*)', Path("/etc/os-release").read_text(), re.M).group(1)
    except (OSError, AttributeError):
        pass
    info["os"] = f"{os_name}, kernel {platform.release()}"
    engine = run(["docker", "info", "--format",
                  "{{.ServerVersion}}|{{.CgroupVersion}}|{{.CgroupDriver}}|{{.Driver}}|{{.NCPU}}|{{.MemTotal}}"])
    api = run(["docker", "version", "--format", "{{.Server.APIVersion}}"]).stdout.strip() or "unknown"
    parts = engine.stdout.strip().split("|")
    if engine.returncode == 0 and len(parts) == 6:
        info["docker"] = (f"Docker Engine {parts[0]} (API {api}, cgroup v{parts[1]}, {parts[2]} driver, "
                          f"{parts[3]} storage{beside_note()})")
    else:
        info["docker"] = "Docker Engine (version unknown)"
    versions = []
    for name, found in compose_variants().items():
        versions.append(f"{name} {found.version}" if isinstance(found, Compose) else f"{name} unavailable")
    info["compose"] = "Compose " + ", ".join(versions)
    info["python"] = f"Python {platform.python_version()}"
    return info


def beside_note() -> str:
    """Says so when the engine is not the machine's own (bench/engine-20.10.sh)."""
    host = os.environ.get("DOCKER_HOST", "")
    if host and host not in ("unix:///var/run/docker.sock", "unix:///run/docker.sock"):
        return f"; at {host}, in its own network namespace beside the machine's engine"
    return ""


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def other_containers() -> int:
    """Running containers that are not this run's (other test runs included)."""
    own = f"{PROJECT_PREFIX}{os.getpid()}x"
    result = run(["docker", "ps", "--format", '{{.Label "com.docker.compose.project"}}'])
    return sum(1 for name in result.stdout.splitlines() if not name.startswith(own))


def image_mode(images: dict[str, str]) -> str:
    standin = all(image.startswith("transbot-standin/") for image in images.values())
    names = ", ".join(images[s] for s in SERVICES)
    return f"{'local stand-ins' if standin else 'official images'} ({names})"


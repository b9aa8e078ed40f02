"""Which compose files a run measures: the fast path or the portable one.

The scripts run Compose with `services/compose/fast-healthchecks.yml` on top
of docker-compose.yml (quick probes while starting, rare ones at rest) when
the engine speaks API >= 1.44 and Compose v2 is >= 2.24, unless
TRANSBOT_FAST_PATH=off (environment or .env.infra); everywhere else they run
the portable path, docker-compose.yml alone. The benchmark's baseline must
pass the same files, so both sides of every comparison run the same stack.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from support.engine import Compose, run
from support.stack import SERVICES, Stack

from .common import BenchError, Unrepeatable

FAST = "fast"
PORTABLE = "portable"
FAST_OVERLAY = "services/compose/fast-healthchecks.yml"
# The override Compose merges by itself, first found wins.
OVERRIDES = ("docker-compose.override.yml", "docker-compose.override.yaml")
OFF_SWITCH = "TRANSBOT_FAST_PATH"
MIN_API = (1, 44)
MIN_COMPOSE = (2, 24)


def version_tuple(text: str) -> tuple[int, int] | None:
    """(major, minor) of "1.45", "v2.40.3", "5.0.1" or "2.29.7-desktop.1"."""
    match = re.match(r"^v?(\d+)\.(\d+)", text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def engine_api() -> str:
    result = run(["docker", "version", "--format", "{{.Server.APIVersion}}"], timeout=30)
    if result.returncode != 0 or version_tuple(result.stdout) is None:
        raise BenchError(f"cannot read the engine's API version: {result.stderr.strip()[:200]}")
    return result.stdout.strip()


def switched_off(values: dict[str, str]) -> bool:
    """TRANSBOT_FAST_PATH as the scripts read it: off, or auto/unset."""
    setting = values.get(OFF_SWITCH, "")
    if setting not in ("", "auto", "off"):
        raise BenchError(f"{OFF_SWITCH} must be auto or off, not {setting!r} (the scripts refuse it too): "
                         f"unset it, or choose with --path")
    return setting == "off"


@dataclass(frozen=True)
class ComposePath:
    """The path a run measures, why, and what the scripts need to take it."""

    name: str
    reason: str
    api: str
    compose_version: str
    # Added to every stack's environment: how the scripts are made to take
    # the path asked for (TRANSBOT_FAST_PATH=off for a forced portable path).
    script_env: tuple[tuple[str, str], ...] = ()

    @property
    def fast(self) -> bool:
        return self.name == FAST

    def files(self, root: Path) -> list[str]:
        """The compose files in effect, in order (no COMPOSE_FILE: the test
        stacks scrub it): docker-compose.yml, the fast overlay on the fast
        path, and the override when there is one."""
        files = ["docker-compose.yml"]
        if self.fast:
            files.append(FAST_OVERLAY)
        for override in OVERRIDES:
            if (root / override).exists():
                files.append(override)
                break
        return files

    def cli_files(self, root: Path) -> list[str]:
        """The -f files as the scripts pass them: all of them on the fast
        path; none on the portable path, where Compose finds the override by
        itself, exactly as before the fast path existed."""
        return self.files(root) if self.fast else []

    def describe(self) -> str:
        if self.fast:
            flags = " ".join(f"-f {name}" for name in ["docker-compose.yml", FAST_OVERLAY, OVERRIDES[0]])
            how = f"`{flags}`"
        else:
            how = "no `-f` (Compose reads docker-compose.yml and docker-compose.override.yml itself)"
        return f"{self.name} ({self.reason}): {how}, for start.sh and the baseline alike"

    def verify(self, stack: Stack) -> None:
        """Fails when a start did not take this path: on the fast path every
        container has a start interval, on the portable path none has."""
        for service in SERVICES:
            container = stack.container(service)
            result = run(["docker", "inspect", "--format", "{{json .Config.Healthcheck}}", container])
            check = (json.loads(result.stdout) if result.returncode == 0 else None) or {}
            has_start_interval = bool(check.get("StartInterval"))
            if has_start_interval != self.fast:
                schedule = {key: check.get(key) for key in ("Interval", "StartInterval")}
                raise Unrepeatable(
                    f"{service} was started on the {'portable' if self.fast else 'fast'} path while the run "
                    f"measures the {self.name} path (its healthcheck, in ns: {schedule}): the scripts and "
                    f"bench/transbench/compose_path.py disagree about which path this engine gets")


def choose(requested: str | None, compose: Compose, environment: dict[str, str]) -> ComposePath:
    """The path to measure: REQUESTED (fast, portable), or when None, what
    the scripts would pick on this engine and Compose."""
    api = engine_api()
    capable_api = version_tuple(api) >= MIN_API
    compose_major_minor = version_tuple(compose.version)
    capable_compose = compose_major_minor is not None and compose_major_minor[0] != 1 \
        and compose_major_minor >= MIN_COMPOSE
    capable = capable_api and capable_compose
    why_not = (f"Engine API {api} < {MIN_API[0]}.{MIN_API[1]}" if not capable_api else
               f"Compose {compose.version} < {MIN_COMPOSE[0]}.{MIN_COMPOSE[1]}")
    why = f"Engine API {api} ≥ 1.44, Compose {compose.version} ≥ 2.24"
    off = switched_off(environment)
    if requested == FAST:
        if not capable:
            raise BenchError(f"--path fast needs Docker Engine API ≥ 1.44 and Compose v2 ≥ 2.24, and here {why_not}: "
                             f"measure --path portable on this engine")
        if off:
            raise BenchError(f"{OFF_SWITCH}=off is set in the environment, which keeps the scripts on the portable "
                             f"path: unset it to measure --path fast")
        return ComposePath(FAST, why, api, compose.version)
    if requested == PORTABLE:
        if capable and not off:
            return ComposePath(PORTABLE, f"{OFF_SWITCH}=off, by --path portable; {why}", api, compose.version,
                               ((OFF_SWITCH, "off"),))
        return ComposePath(PORTABLE, f"{OFF_SWITCH}=off" if off else why_not, api, compose.version)
    if capable and not off:
        return ComposePath(FAST, why, api, compose.version)
    return ComposePath(PORTABLE, f"{OFF_SWITCH}=off" if off else why_not, api, compose.version)

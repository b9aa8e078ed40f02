"""Extra environment for a test stack's Langfuse, through Compose's override file.

Stack.write_image_override points the services at the test images in the
copy's docker-compose.override.yml; this adds a Langfuse `environment:` to
the same file, the way a user customises the stack locally. `start.sh` then
recreates Langfuse with it (`compose up -d` notices the changed config).
"""

from __future__ import annotations

import json

from support.engine import STANDIN_IMAGES
from support.stack import Stack


def uses_standins(stack: Stack) -> bool:
    return stack.images["langfuse"] == STANDIN_IMAGES["langfuse"]


def write_langfuse_env(stack: Stack, env: dict[str, str]) -> None:
    """Rewrites the override: the test images, plus ENV for Langfuse (an
    empty ENV leaves only the images, as Stack.create wrote it)."""
    stack.write_image_override()
    if not env:
        return
    path = stack.root / "docker-compose.override.yml"
    lines = path.read_text().splitlines()
    at = lines.index("  langfuse:") + 2  # after its image: line
    # JSON strings are valid YAML scalars: no quoting surprises.
    extra = ["    environment:", *(f"      {key}: {json.dumps(value)}" for key, value in env.items())]
    path.write_text("\n".join(lines[:at] + extra + lines[at:]) + "\n")

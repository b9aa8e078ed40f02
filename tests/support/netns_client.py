"""The Langfuse Python SDK as a TransBot app uses it, run as a client inside
a swarm node's network namespace (where that node's published ports are):

    nsenter --net=/var/run/netns/NODE python -m support.netns_client COMMAND [ARG]

auth-check         exit 0 when the keys are accepted
send-trace NAME    sends a trace, flushes, prints its id
read-trace ID      prints the trace's name (exit 1 if it cannot be read)
poll-health FILE   GETs /api/public/health every 100 ms until FILE exists,
                   then prints "REQUESTS FAILURES" and the failures' times

The SDK reads LANGFUSE_HOST, LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY
from the environment: the secret key is never an argument.
"""

from __future__ import annotations

import sys
import time

from langfuse import Langfuse


def poll_health(stop_file: str) -> int:
    """What a load balancer's client sees during an upheaval."""
    import os
    import urllib.request

    url = os.environ["LANGFUSE_HOST"] + "/api/public/health"
    requests, failures = 0, []
    while not os.path.exists(stop_file):
        requests += 1
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status != 200:
                    failures.append(f"{time.time():.1f} status {response.status}")
        except Exception as exc:  # noqa: BLE001 - every kind of failure counts
            failures.append(f"{time.time():.1f} {exc}")
        time.sleep(0.1)
    print(requests, len(failures))
    print("\n".join(failures[:20]))
    return 0


def main(argv: list[str]) -> int:
    if argv[1] == "poll-health":
        return poll_health(argv[2])
    client = Langfuse(timeout=10, max_retries=1)
    command = argv[1]
    if command == "auth-check":
        return 0 if client.auth_check() else 1
    if command == "send-trace":
        trace = client.trace(name=argv[2])
        client.flush()
        print(trace.id)
        return 0
    if command == "read-trace":
        # Ingestion is asynchronous in Langfuse: give it a moment.
        for _ in range(20):
            try:
                print(client.fetch_trace(argv[2]).data.name)
                return 0
            except Exception as exc:  # noqa: BLE001 - the SDK raises several kinds
                error = exc
                time.sleep(0.5)
        print(f"read-trace: {error}", file=sys.stderr)
        return 1
    print(f"unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""CI gates on `./scripts/health-check.sh --wait` while the stack starts cold.

Journey: Docker already says Langfuse's container is running, but the
server inside does not answer yet: the published port accepts a connection
and then resets it, as docker-proxy does while nothing listens behind it.
The wait goes on quietly until Langfuse answers, and CI's log shows the
table, not a bash "read error: Connection reset by peer" for every try.

The engine is a small stand-in `docker` on PATH that reports one running,
healthy langfuse container of this clone, publishing Langfuse's port;
Langfuse is a local TCP server.
"""

from __future__ import annotations

import socket
import struct
import threading

from support.engine import free_port

_DOCKER = r'''#!/bin/sh
case "$1" in
    version) echo 1.47 ;;
    ps) printf 'c0ffee\037langfuse\037hash\037langfuse/langfuse:2\037running\037Up 5 seconds (healthy)\037False\037%s\037127.0.0.1:%s->3000/tcp\n' "$REPO" "$PORT" ;;
    inspect) echo "langfuse c0ffee running healthy 0" ;;
    port) echo "3000/tcp -> 127.0.0.1:$PORT" ;;
esac
'''


class ResettingThenHealthy:
    """Accepts connections on PORT: resets the first RESETS of them once the
    request has arrived, then answers 200 to every one."""

    def __init__(self, port: int, resets: int):
        self.resets = resets
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", port))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                self.connections += 1
                connection.recv(4096)
                if self.connections <= self.resets:
                    # Linger 0: close sends RST, "Connection reset by peer".
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    continue
                connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def close(self) -> None:
        self.listener.close()


def test_waiting_over_a_cold_start_prints_no_read_errors(harness, tmp_path):
    port = free_port()
    harness.write_env({"LANGFUSE_PORT": str(port)})
    engine = tmp_path / "engine"
    engine.mkdir()
    (engine / "docker").write_text(_DOCKER)
    (engine / "docker").chmod(0o755)
    langfuse = ResettingThenHealthy(port, resets=2)
    try:
        result = harness.run("health-check.sh", "langfuse", "--wait", "--timeout", "60",
                             env={"PATH": f"{engine}:{harness.env()['PATH']}", "REPO": str(harness.repo),
                                  "PORT": str(port)})
    finally:
        langfuse.close()
    assert result.returncode == 0, result
    assert langfuse.connections > 2, "the stand-in never reset a connection"
    assert "ok: GET /api/public/health" in result.stdout, result
    assert result.stderr == "", result

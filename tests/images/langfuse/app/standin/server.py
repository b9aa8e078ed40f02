"""HTTP server of the Langfuse v2 stand-in (stdlib http.server, threaded).

Binds to $HOSTNAME:$PORT exactly like the Next.js standalone server of the
real image: Docker sets HOSTNAME to the container id, which resolves to the
container's network address only, so a check against 127.0.0.1 inside the
container is refused unless the compose file sets HOSTNAME=0.0.0.0.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import re
import signal
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import psycopg2

from . import database, ingestion
from .config import VERSION, Settings, resolve_bind_address
from .provision import hash_secret_key

MAX_BODY_BYTES = 4_500_000  # the real ingestion endpoint's request size limit
QUIET_PATHS = ("/api/public/health", "/api/public/ready")


class Unauthorized(Exception):
    pass


class App:
    """State shared by all request threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.shutting_down = threading.Event()

    def db(self):
        return database.transaction(self.settings.database)

    def authenticate(self, header: str | None) -> dict:
        """Basic auth with the project's public key (user) and secret key."""
        if not header:
            raise Unauthorized("No authorization header")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "basic":
            raise Unauthorized("Invalid authorization header: expected Basic auth")
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise Unauthorized("Invalid authorization header") from exc
        public_key, sep, secret_key = decoded.partition(":")
        if not sep or not public_key or not secret_key:
            raise Unauthorized("Invalid authorization header")
        with self.db() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT k.project_id, k.fast_hashed_secret_key, p.name"
                " FROM api_keys k JOIN projects p ON p.id = k.project_id WHERE k.public_key = %s",
                (public_key,),
            )
            row = cur.fetchone()
        expected = hash_secret_key(secret_key, self.settings.salt)
        if row is None or not hmac.compare_digest(row[1], expected):
            raise Unauthorized("Invalid credentials. Confirm that you've configured the correct host.")
        return {"id": row[0], "name": row[2]}


class Handler(BaseHTTPRequestHandler):
    server_version = "langfuse-standin/" + VERSION
    sys_version = ""
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's httpx client expects
    timeout = 60

    # --- plumbing --------------------------------------------------------

    @property
    def app(self) -> App:
        return self.server.app

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass  # requests are logged in _dispatch (quiet for health probes)

    def _send_json(self, status: int, payload) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_json(self):
        """(status, payload): status is None when the body was read and parsed,
        otherwise the error status that has already been answered."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send_json(411, {"message": "Content-Length required"})
            self.close_connection = True
            return 411, None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._send_json(413, {"message": "Request body too large"})
            self.close_connection = True
            return 413, None
        raw = self.rfile.read(length) if length else b""
        try:
            return None, json.loads(raw or b"null")
        except ValueError:
            self._send_json(400, {"message": "Invalid request data", "error": "body is not valid JSON"})
            return 400, None

    def do_GET(self):  # noqa: N802 - stdlib naming
        self._dispatch()

    def do_HEAD(self):  # noqa: N802
        self._dispatch()

    def do_POST(self):  # noqa: N802
        self._dispatch()

    def do_PUT(self):  # noqa: N802
        self._dispatch()

    def do_PATCH(self):  # noqa: N802
        self._dispatch()

    def do_DELETE(self):  # noqa: N802
        self._dispatch()

    def _dispatch(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/") or "/"
        status = self._route(path, query)
        if path not in QUIET_PATHS:
            print(f"{self.command} {url.path} {status}", file=sys.stderr, flush=True)

    # --- routes ----------------------------------------------------------

    def _route(self, path: str, query: dict) -> int:
        method = "GET" if self.command == "HEAD" else self.command
        if path == "/api/public/health":
            return self._health(query)
        if path == "/api/public/ready":
            return self._ready()
        if path == "/":
            self.send_response(307)
            self.send_header("Location", "/auth/sign-in")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return 307
        if path == "/auth/sign-in" and method == "GET":
            body = b"<!doctype html><title>Langfuse (transbot stand-in)</title><p>Langfuse v2 stand-in: no UI.</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return 200
        if not path.startswith("/api/public/"):
            self._send_json(404, {"message": "Not found"})
            return 404
        return self._public_api(method, path, query)

    def _health(self, query: dict) -> int:
        if query.get("failIfDatabaseUnavailable") == "true":
            try:
                conn = database.connect(self.app.settings.database, timeout=3)
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT 1")
                finally:
                    conn.close()
            except psycopg2.Error:
                self._send_json(503, {"status": "Database not available"})
                return 503
        self._send_json(200, {"status": "OK", "version": VERSION})
        return 200

    def _ready(self) -> int:
        if self.app.shutting_down.is_set():
            self._send_json(500, {"status": "SIGTERM / SIGINT received, shutting down", "version": VERSION})
            return 500
        self._send_json(200, {"status": "OK", "version": VERSION})
        return 200

    def _public_api(self, method: str, path: str, query: dict) -> int:
        try:
            project = self.app.authenticate(self.headers.get("Authorization"))
        except Unauthorized as exc:
            self._send_json(401, {"error": "Unauthorized", "message": str(exc)})
            return 401
        except psycopg2.Error as exc:
            return self._db_error(exc)
        trace_match = re.fullmatch(r"/api/public/traces/([^/]+)", path)
        try:
            if path == "/api/public/projects" and method == "GET":
                self._send_json(
                    200, {"data": [{"id": project["id"], "name": project["name"], "metadata": {}}]}
                )
                return 200
            if path == "/api/public/ingestion" and method == "POST":
                error, payload = self._read_json()
                if error is not None:
                    return error
                if self.app.settings.knobs.reject_ingestion:
                    # Test knob: a server that refuses every event (stores nothing).
                    self._send_json(
                        403, {"error": "Forbidden", "message": "Ingestion refused (STANDIN_REJECT_INGESTION=1)"}
                    )
                    return 403
                with self.app.db() as conn:
                    status, body = ingestion.ingest(conn, project["id"], payload)
                self._send_json(status, body)
                return status
            if path == "/api/public/traces" and method == "GET":
                with self.app.db() as conn:
                    body = ingestion.list_traces(conn, project["id"], query)
                self._send_json(200, body)
                return 200
            if trace_match and method == "GET":
                with self.app.db() as conn:
                    trace = ingestion.get_trace(conn, project["id"], trace_match.group(1))
                if trace is None:
                    self._send_json(
                        404,
                        {
                            "error": "LangfuseNotFoundError",
                            "message": "Trace not found within authorized project",
                        },
                    )
                    return 404
                self._send_json(200, trace)
                return 200
        except psycopg2.Error as exc:
            return self._db_error(exc)
        self._send_json(404, {"message": "Route not found (not implemented by the stand-in)"})
        return 404

    def _db_error(self, exc: Exception) -> int:
        print(f"database error: {str(exc).strip()}", file=sys.stderr, flush=True)
        self._send_json(500, {"error": "InternalServerError", "message": "Internal Server Error"})
        return 500


class Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not delay shutdown
    allow_reuse_address = True

    def __init__(self, family, sockaddr, app: App):
        self.address_family = family
        self.app = app
        super().__init__(sockaddr, Handler)

    def server_bind(self):
        # HTTPServer.server_bind would do a reverse DNS lookup (getfqdn) that
        # can stall without DNS; the name is only cosmetic.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def run(settings: Settings) -> int:
    app = App(settings)
    try:
        family, sockaddr = resolve_bind_address(settings.hostname, settings.port)
        server = Server(family, sockaddr, app)
    except OSError as exc:
        print(f"Error: failed to listen on {settings.hostname}:{settings.port}: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    host, port = server.server_address[:2]
    print(f"  ▲ Langfuse v2 stand-in {VERSION}")
    print(f"  - Local:        http://{settings.hostname}:{settings.port}")
    print(f"  - Listening on: {host}:{port}")
    print(" ✓ Ready", flush=True)

    while not stop.wait(1):
        pass
    # /api/public/ready answers 500 from now on; give probes a moment to see
    # it (like the original's shutdown delay), then stop.
    app.shutting_down.set()
    delay = float(os.environ.get("STANDIN_SHUTDOWN_DELAY_SECONDS") or 1)
    print(f"SIGTERM / SIGINT received, shutting down in {delay:g} s", flush=True)
    time.sleep(max(0.0, delay))
    server.shutdown()
    server.server_close()
    return 0

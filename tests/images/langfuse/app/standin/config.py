"""Environment validation of the Langfuse v2 stand-in.

Langfuse v2 validates its environment with zod when the server starts and
refuses to start on invalid values; Prisma refuses a DATABASE_URL it cannot
parse (P1013). This module reproduces the rules the transbot stack relies on
(tests/images/README.md) and collects *all* problems before failing, so one
start shows every misconfigured variable.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote


def _version(release: str = "2.95.12-standin") -> str:
    """The version the health endpoint reports. A second build of the image
    (STANDIN_REVISION=2, the update tests' "newer image") says so, as a newer
    Langfuse release would: 2.95.12-standin.2."""
    try:
        revision = (Path(__file__).parent / "REVISION").read_text().strip()
    except OSError:
        revision = "1"
    return release if revision in ("", "1") else f"{release}.{revision}"


VERSION = _version()

BOOLEAN_VARS = (
    "TELEMETRY_ENABLED",
    "AUTH_DISABLE_SIGNUP",
    "AUTH_DISABLE_USERNAME_PASSWORD",
    "LANGFUSE_ENABLE_EXPERIMENTAL_FEATURES",
)

INIT_VARS = (
    "LANGFUSE_INIT_ORG_ID",
    "LANGFUSE_INIT_ORG_NAME",
    "LANGFUSE_INIT_PROJECT_ID",
    "LANGFUSE_INIT_PROJECT_NAME",
    "LANGFUSE_INIT_PROJECT_PUBLIC_KEY",
    "LANGFUSE_INIT_PROJECT_SECRET_KEY",
    "LANGFUSE_INIT_USER_EMAIL",
    "LANGFUSE_INIT_USER_NAME",
    "LANGFUSE_INIT_USER_PASSWORD",
)

# The user name and the password may hold only RFC 3986 unreserved characters
# and percent-escapes. Prisma refuses every reserved character that is not
# percent-encoded (gen-delims `: / ? # [ ] @` and sub-delims
# `! $ & ' ( ) * + , ; =`), a `%` not followed by two hex digits, spaces and
# other bytes with P1013. The first `:` of the user info separates the two.
_CREDENTIAL_RE = re.compile(r"^(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})*$")
_REGNAME_RE = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$")
_HEX64_RE = re.compile(r"^[0-9a-fA-F]{64}$")


class ConfigError(Exception):
    """One or more environment variables are invalid; args[0] is a list."""


@dataclass(frozen=True)
class DatabaseUrl:
    """The parts of DATABASE_URL needed to connect, percent-decoded."""

    host: str
    port: int
    user: str
    password: str
    database: str
    schema: str = "public"
    options: dict = field(default_factory=dict)

    def where(self) -> str:
        """host:port as Prisma prints it in its messages (no credentials)."""
        return f"{self.host}:{self.port}"

    def connect_kwargs(self) -> dict:
        kwargs = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": self.database,
            "application_name": "langfuse-standin",
        }
        if self.password:
            kwargs["password"] = self.password
        kwargs.update(self.options)
        return kwargs


def env(name: str, environ=None) -> str | None:
    """A variable's value; empty counts as unset, as in Langfuse's env.mjs."""
    value = (os.environ if environ is None else environ).get(name)
    return value if value else None


def parse_database_url(url: str) -> DatabaseUrl:
    """Parse a postgres connection URL strictly, like Prisma's P1013 check.

    Raises ValueError with a reason that never contains the password.
    """
    match = re.match(r"^(postgres|postgresql)://", url)
    if not match:
        raise ValueError("the URL must start with the protocol `postgresql://` or `postgres://`")
    rest = url[match.end() :]
    # The authority ends at the first "/", "?" or "#": an unencoded one of these
    # in the password therefore cuts it short and the rest fails below.
    cut = min([i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0] or [len(rest)])
    authority, tail = rest[:cut], rest[cut:]
    if authority.count("@") > 1:
        raise ValueError("the user name or password holds a character that must be percent-encoded")
    userinfo, _, hostport = authority.rpartition("@")
    user, _, password = userinfo.partition(":")
    # Never name the character: it is part of a secret.
    if not _CREDENTIAL_RE.match(user):
        raise ValueError("the user name holds a character that must be percent-encoded")
    if not _CREDENTIAL_RE.match(password):
        raise ValueError("the password holds a character that must be percent-encoded")

    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError("invalid IPv6 address in database URL")
        host, port_text = hostport[1:end], hostport[end + 1 :]
        if port_text and not port_text.startswith(":"):
            raise ValueError("invalid port number in database URL")
        port_text = port_text[1:]
    else:
        host, _, port_text = hostport.partition(":")
        if host and not _REGNAME_RE.match(host):
            raise ValueError("invalid host in database URL")
    if not host:
        raise ValueError("empty host in database URL")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError("invalid port number in database URL")
        port = int(port_text)
    else:
        port = 5432

    tail = tail.partition("#")[0]
    path, _, query = tail.partition("?")
    database = unquote(path[1:]) if path.startswith("/") else ""
    params = dict(parse_qsl(query, keep_blank_values=True))
    options = {}
    for key in ("sslmode", "connect_timeout", "sslcert", "sslkey", "sslrootcert"):
        if params.get(key):
            options[key] = params[key]
    return DatabaseUrl(
        host=unquote(host),
        port=port,
        user=unquote(user),
        password=unquote(password),
        database=database or "postgres",
        schema=params.get("schema") or "public",
        options=options,
    )


def _check_http_url(value: str) -> str | None:
    match = re.match(r"^(https?)://([^/?#]+)", value)
    if not match:
        return "Invalid url (a full URL with scheme, e.g. http://localhost:3000)"
    hostport = match.group(2).rpartition("@")[2]
    if hostport.startswith("["):
        return None
    host, _, port = hostport.partition(":")
    if not host or (port and not port.isdigit()):
        return "Invalid url"
    return None


# --- Test-only knobs: not Langfuse's, they let tests imitate what the real
# image does slowly or what a broken server does. Invalid values are refused
# like any other variable, so a typo in a test cannot pass unnoticed.

MAX_MIGRATION_SECONDS = 600


@dataclass(frozen=True)
class Knobs:
    # Seconds that applying every migration to an empty database takes
    # (the real image: ~10 s for ~270 migrations); 0 = as fast as possible.
    migration_seconds: float = 0.0
    # POST /api/public/ingestion answers 403 and stores nothing.
    reject_ingestion: bool = False


def _knobs(get, problems) -> Knobs:
    seconds = 0.0
    text = get("STANDIN_MIGRATION_SECONDS")
    if text is not None:
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= MAX_MIGRATION_SECONDS:
            problems.append(
                ("STANDIN_MIGRATION_SECONDS", f"must be a number of seconds from 0 to {MAX_MIGRATION_SECONDS}")
            )
            seconds = 0.0
    reject = get("STANDIN_REJECT_INGESTION")
    if reject is not None and reject not in ("0", "1"):
        problems.append(("STANDIN_REJECT_INGESTION", "must be 1 (refuse ingestion) or 0"))
    return Knobs(migration_seconds=seconds, reject_ingestion=reject == "1")


@dataclass(frozen=True)
class Settings:
    database: DatabaseUrl
    nextauth_url: str
    salt: str
    hostname: str
    port: int
    init: dict
    knobs: Knobs = Knobs()


def validate(environ=None) -> Settings:
    """Validate the whole environment; raise ConfigError listing every issue."""
    problems: list[tuple[str, str]] = []

    def get(name):
        return env(name, environ)

    database = None
    raw_url = get("DATABASE_URL")
    if raw_url is None:
        problems.append(("DATABASE_URL", "Required"))
    else:
        try:
            database = parse_database_url(raw_url)
        except ValueError as exc:
            problems.append(
                (
                    "DATABASE_URL",
                    f"Error: P1013: The provided database string is invalid. {exc}. Please refer to the"
                    " documentation in https://pris.ly/d/connection-strings for constructing a correct"
                    " connection string. In some cases, certain characters must be escaped. Please check"
                    " the string for any illegal characters (reserved characters in the user name or"
                    " password, such as : / ? # [ ] @ ! $ & ' ( ) * + , ; = %, must be percent-encoded).",
                )
            )

    nextauth_url = get("NEXTAUTH_URL")
    if nextauth_url is None:
        problems.append(("NEXTAUTH_URL", "Required"))
    else:
        issue = _check_http_url(nextauth_url)
        if issue:
            problems.append(("NEXTAUTH_URL", issue))

    if get("NEXTAUTH_SECRET") is None:
        problems.append(("NEXTAUTH_SECRET", "Required"))
    salt = get("SALT")
    if salt is None:
        problems.append(("SALT", "A strong salt is required to encrypt API keys (Required)"))

    key = get("ENCRYPTION_KEY")
    if key is not None and not _HEX64_RE.match(key):
        problems.append(
            (
                "ENCRYPTION_KEY",
                "must be 256 bits, 64 string characters in hex format, generate via: openssl rand -hex 32",
            )
        )

    for name in BOOLEAN_VARS:
        value = get(name)
        if value is not None and value not in ("true", "false"):
            problems.append((name, f"Invalid enum value. Expected 'true' | 'false', received '{value}'"))

    port = 3000
    port_text = get("PORT")
    if port_text is not None:
        if port_text.isdigit() and int(port_text) < 65536:
            port = int(port_text)
        else:
            problems.append(("PORT", "must be a port number"))

    init = {name: get(name) for name in INIT_VARS}
    email = init["LANGFUSE_INIT_USER_EMAIL"]
    if email is not None and not _EMAIL_RE.match(email):
        problems.append(("LANGFUSE_INIT_USER_EMAIL", "Invalid email"))
    password = init["LANGFUSE_INIT_USER_PASSWORD"]
    if init["LANGFUSE_INIT_ORG_ID"] and email and password is not None and len(password) < 8:
        problems.append(("LANGFUSE_INIT_USER_PASSWORD", "must contain at least 8 characters"))
    for name in ("LANGFUSE_INIT_PROJECT_PUBLIC_KEY", "LANGFUSE_INIT_PROJECT_SECRET_KEY"):
        if init[name] and ":" in init[name]:
            problems.append((name, "must not contain ':' (Basic auth splits on it)"))

    knobs = _knobs(get, problems)

    if problems:
        raise ConfigError(problems)
    return Settings(
        database=database,
        nextauth_url=nextauth_url,
        salt=salt,
        hostname=get("HOSTNAME") or "0.0.0.0",
        port=port,
        init=init,
        knobs=knobs,
    )


def format_problems(problems) -> str:
    lines = ["❌ Invalid environment variables:"]
    lines += [f"  {name}: {message}" for name, message in problems]
    return "\n".join(lines)


def resolve_bind_address(hostname: str, port: int):
    """First address HOSTNAME resolves to, like Node's server.listen(port, host)."""
    infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr

"""Headless initialisation (LANGFUSE_INIT_*), as Langfuse v2.78+ does it.

Runs at every start and only creates what is missing: an existing org,
project, API key or user is never changed (renaming, a new secret key or a
new password in the environment have no effect), exactly like the original;
only the init user's membership is set back to OWNER. Secrets never reach
the database in clear text.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import uuid

DEFAULT_ORG_NAME = "Provisioned Org"
DEFAULT_PROJECT_NAME = "Provisioned Project"
DEFAULT_USER_NAME = "Provisioned User"
_PBKDF2_ROUNDS = 100_000


def hash_secret_key(secret: str, salt: str) -> str:
    """Keyed SHA-256 of an API secret key; SALT is the key (see README)."""
    return hmac.new(salt.encode(), secret.encode(), hashlib.sha256).hexdigest()


def display_secret_key(secret: str) -> str:
    return f"{secret[:6]}...{secret[-4:]}" if len(secret) > 10 else "..."


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PBKDF2_ROUNDS)
    return f"pbkdf2_sha256${_PBKDF2_ROUNDS}${salt.hex()}${digest.hex()}"


def _warn(message: str) -> None:
    print(f"[langfuse-standin] init: {message}", file=sys.stderr)


def provision(conn, init: dict, salt: str) -> None:
    """Create the org/project/key/user described by LANGFUSE_INIT_* if missing."""
    org_id = init["LANGFUSE_INIT_ORG_ID"]
    if not org_id:
        ignored = [name for name, value in init.items() if value]
        if ignored:
            _warn(f"LANGFUSE_INIT_ORG_ID is not set, ignoring {', '.join(ignored)}")
        return
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO organizations (id, name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
            (org_id, init["LANGFUSE_INIT_ORG_NAME"] or DEFAULT_ORG_NAME),
        )
        _provision_project(cur, org_id, init, salt)
        _provision_user(cur, org_id, init)


def _provision_project(cur, org_id: str, init: dict, salt: str) -> None:
    project_id = init["LANGFUSE_INIT_PROJECT_ID"]
    public_key = init["LANGFUSE_INIT_PROJECT_PUBLIC_KEY"]
    secret_key = init["LANGFUSE_INIT_PROJECT_SECRET_KEY"]
    if not project_id:
        if public_key or secret_key:
            _warn("LANGFUSE_INIT_PROJECT_ID is not set, no API key is created")
        return
    cur.execute(
        "INSERT INTO projects (id, org_id, name) VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING",
        (project_id, org_id, init["LANGFUSE_INIT_PROJECT_NAME"] or DEFAULT_PROJECT_NAME),
    )
    if not (public_key and secret_key):
        if public_key or secret_key:
            _warn("both LANGFUSE_INIT_PROJECT_PUBLIC_KEY and _SECRET_KEY are needed, no API key is created")
        return
    cur.execute(
        "INSERT INTO api_keys (id, project_id, public_key, fast_hashed_secret_key, display_secret_key, note)"
        " VALUES (%s, %s, %s, %s, %s, 'Provisioned API Key') ON CONFLICT (public_key) DO NOTHING",
        (
            str(uuid.uuid4()),
            project_id,
            public_key,
            hash_secret_key(secret_key, salt),
            display_secret_key(secret_key),
        ),
    )


def _provision_user(cur, org_id: str, init: dict) -> None:
    email = init["LANGFUSE_INIT_USER_EMAIL"]
    password = init["LANGFUSE_INIT_USER_PASSWORD"]
    if not (email and password):
        if email or password or init["LANGFUSE_INIT_USER_NAME"]:
            _warn("LANGFUSE_INIT_USER_EMAIL and _PASSWORD are both needed, no user is created")
        return
    email = email.lower()
    cur.execute("SELECT id FROM users WHERE email = %s", (email,))
    row = cur.fetchone()
    if row:
        user_id = row[0]
    else:
        user_id = str(uuid.uuid4())
        cur.execute(
            "INSERT INTO users (id, name, email, password) VALUES (%s, %s, %s, %s)",
            (user_id, init["LANGFUSE_INIT_USER_NAME"] or DEFAULT_USER_NAME, email, hash_password(password)),
        )
    # An upsert, as in the original: the init user is made OWNER again even
    # if someone changed its role in the UI.
    cur.execute(
        "INSERT INTO organization_memberships (id, org_id, user_id, role) VALUES (%s, %s, %s, 'OWNER')"
        " ON CONFLICT (org_id, user_id) DO UPDATE SET role = 'OWNER', updated_at = now()"
        " WHERE organization_memberships.role <> 'OWNER'",
        (str(uuid.uuid4()), org_id, user_id),
    )

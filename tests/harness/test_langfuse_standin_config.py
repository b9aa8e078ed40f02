"""The Langfuse stand-in reads DATABASE_URL at least as strictly as Prisma.

Prisma refuses a connection string whose user name or password holds a
reserved character that is not percent-encoded (P1013). The stack relies on
that: LANGFUSE_DB_PASSWORD sits unencoded in Langfuse's DATABASE_URL, so the
scripts allow only URL-safe characters in it. A stand-in that accepted more
would let a widened allow-list pass every test and fail on the real image.
These tests run the stand-in's own parser (tests/images/langfuse/app), no
engine needed; tests/integration/test_langfuse_standin.py checks the image.
"""

from __future__ import annotations

import pytest

from standin import config

# RFC 3986 gen-delims and sub-delims, and characters that are never allowed.
RESERVED = list(":/?#[]@!$&'()*+,;=")
NEVER_ALLOWED = [" ", '"', "\\", "<", ">", "^", "`", "{", "|", "}", "é", "€"]
BAD_PERCENT = ["%", "%4", "%zz", "%g1", "100%"]
URL_SAFE = "Az09-._~"

VALID_ENV = {
    "NEXTAUTH_URL": "http://localhost:3000",
    "NEXTAUTH_SECRET": "secret",
    "SALT": "salt",
}


def url(user: str = "langfuse", password: str = "pw") -> str:
    return f"postgresql://{user}:{password}@postgres:5432/langfuse"


def problems_of(environ: dict[str, str]) -> dict[str, str]:
    try:
        config.validate({**VALID_ENV, **environ})
    except config.ConfigError as exc:
        return dict(exc.args[0])
    return {}


@pytest.mark.parametrize("char", RESERVED + NEVER_ALLOWED + BAD_PERCENT, ids=repr)
def test_a_password_with_an_unencoded_reserved_character_is_refused_like_p1013(char):
    password = f"secret{char}value"
    problems = problems_of({"DATABASE_URL": url(password=password)})
    assert set(problems) == {"DATABASE_URL"}, problems
    message = problems["DATABASE_URL"]
    assert message.startswith("Error: P1013: The provided database string is invalid."), message
    assert "percent-encoded" in message
    assert password not in message, "the password was printed"


@pytest.mark.parametrize("char", [c for c in RESERVED if c not in ":/?#@"] + NEVER_ALLOWED, ids=repr)
def test_a_user_name_with_an_unencoded_reserved_character_is_refused(char):
    problems = problems_of({"DATABASE_URL": url(user=f"lang{char}fuse")})
    assert "P1013" in problems.get("DATABASE_URL", ""), problems


@pytest.mark.parametrize("char", RESERVED + NEVER_ALLOWED + ["%"], ids=repr)
def test_the_same_character_percent_encoded_is_accepted_and_decoded(char):
    encoded = "".join(f"%{byte:02X}" for byte in char.encode())
    parsed = config.parse_database_url(url(user=f"u{encoded}", password=f"p{encoded}w"))
    assert (parsed.user, parsed.password) == (f"u{char}", f"p{char}w")
    assert (parsed.host, parsed.port, parsed.database) == ("postgres", 5432, "langfuse")


def test_url_safe_characters_pass_unchanged():
    parsed = config.parse_database_url(url(password=URL_SAFE))
    assert parsed.password == URL_SAFE
    assert problems_of({"DATABASE_URL": url(password=URL_SAFE)}) == {}


def test_the_url_the_compose_file_builds_from_a_generated_password_is_accepted():
    # init-env.sh generates 32 hex digits for LANGFUSE_DB_PASSWORD.
    parsed = config.parse_database_url("postgresql://langfuse:0123456789abcdef0123456789abcdef@postgres:5432/langfuse")
    assert (parsed.user, parsed.password, parsed.database) == ("langfuse", "0123456789abcdef0123456789abcdef",
                                                               "langfuse")


@pytest.mark.parametrize("value", ["abc", "-1", "601", "nan", "inf", "1e9"])
def test_a_bad_migration_duration_is_refused_naming_the_variable(value):
    assert set(problems_of({"DATABASE_URL": url(), "STANDIN_MIGRATION_SECONDS": value})) == {
        "STANDIN_MIGRATION_SECONDS"}


def test_the_test_knobs_are_read():
    settings = config.validate({**VALID_ENV, "DATABASE_URL": url(), "STANDIN_MIGRATION_SECONDS": "10",
                                "STANDIN_REJECT_INGESTION": "1"})
    assert settings.knobs == config.Knobs(migration_seconds=10.0, reject_ingestion=True)
    default = config.validate({**VALID_ENV, "DATABASE_URL": url()})
    assert default.knobs == config.Knobs(migration_seconds=0.0, reject_ingestion=False)
    assert set(problems_of({"DATABASE_URL": url(), "STANDIN_REJECT_INGESTION": "yes"})) == {
        "STANDIN_REJECT_INGESTION"}

-- TransBot schema: users and their translation history.
--
-- Runs once, on an empty data directory, as the bootstrap user (POSTGRES_USER)
-- connected to POSTGRES_DB. It is idempotent, so it is also safe to apply to an
-- existing database: ./scripts/apply-schema.sh does exactly that, and running
-- it twice changes nothing.

-- "already exists, skipping" notices are expected on a second run.
SET client_min_messages = warning;

CREATE SCHEMA IF NOT EXISTS transbot;

-- Language codes: BCP 47-ish, e.g. "en", "pt-BR", "zh-Hans". Lower-case
-- primary subtag of 2-3 letters plus optional subtags; no free text.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'transbot' AND t.typname = 'language_code'
    ) THEN
        CREATE DOMAIN transbot.language_code AS text
            CHECK (VALUE ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$');
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS transbot.users (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stable identity from the login provider (e-mail, OAuth subject, ...).
    external_id             text NOT NULL UNIQUE
                            CHECK (external_id ~ '\S'),
    display_name            text CHECK (display_name IS NULL OR display_name ~ '\S'),
    preferred_source_lang   transbot.language_code,
    preferred_target_lang   transbot.language_code NOT NULL DEFAULT 'en',
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK (updated_at >= created_at)
);

CREATE TABLE IF NOT EXISTS transbot.translations (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             bigint NOT NULL
                        REFERENCES transbot.users (id) ON DELETE CASCADE,
    -- The Streamlit session that asked; groups a conversation.
    session_id          text CHECK (session_id IS NULL OR length(session_id) > 0),
    -- NULL source language means "auto-detect"; detected_lang is the result.
    source_lang         transbot.language_code,
    target_lang         transbot.language_code NOT NULL,
    detected_lang       transbot.language_code,
    source_text         text NOT NULL CHECK (source_text ~ '\S'),
    translated_text     text,
    model               text NOT NULL CHECK (length(model) > 0),
    prompt_version      text,
    input_tokens        integer CHECK (input_tokens >= 0),
    output_tokens       integer CHECK (output_tokens >= 0),
    cost_usd            numeric(12, 6) CHECK (cost_usd >= 0),
    latency_ms          integer CHECK (latency_ms >= 0),
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'succeeded', 'failed')),
    error_message       text,
    -- Links the row to its trace in Langfuse.
    langfuse_trace_id   text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- A finished translation has its text; a failed one says why.
    CHECK (status <> 'succeeded' OR translated_text IS NOT NULL),
    CHECK (status <> 'failed' OR error_message IS NOT NULL)
);

-- "This user's recent history", newest first.
CREATE INDEX IF NOT EXISTS translations_user_recent_idx
    ON transbot.translations (user_id, created_at DESC);
-- A conversation's turns in order.
CREATE INDEX IF NOT EXISTS translations_session_idx
    ON transbot.translations (session_id, created_at)
    WHERE session_id IS NOT NULL;
-- From a Langfuse trace back to the row.
CREATE INDEX IF NOT EXISTS translations_langfuse_trace_idx
    ON transbot.translations (langfuse_trace_id)
    WHERE langfuse_trace_id IS NOT NULL;

-- Keep users.updated_at honest without relying on the application.
CREATE OR REPLACE FUNCTION transbot.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER users_touch_updated_at
    BEFORE UPDATE ON transbot.users
    FOR EACH ROW EXECUTE FUNCTION transbot.touch_updated_at();

COMMENT ON SCHEMA transbot IS 'TransBot translation history and user data';
COMMENT ON TABLE transbot.users IS 'TransBot users and their language preferences';
COMMENT ON TABLE transbot.translations IS 'One row per translation request, with cost, latency and its Langfuse trace';

-- API bearer tokens. Only the sha256 of a token is stored; the token itself is shown once.
-- Roles: viewer (wall screens, leaders), operator (+ acknowledge, silence), admin (+ tokens,
-- config), ingest (push samples only: a monitored system that sends its own samples).
CREATE TABLE IF NOT EXISTS api_tokens (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL CHECK (name <> ''),
    role         text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin', 'ingest')),
    hash         text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
-- A name identifies at most one live token, so `ioc token revoke wall-1` is unambiguous.
CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_live_name ON api_tokens (name)
    WHERE revoked_at IS NULL;

-- lootwatch schema, version 8: server-side sessions of the review app, and its login attempts.

-- The browser's cookie carries only a random token; its SHA-256 is kept here, so a session is
-- ended server-side (logout, password change, account disabled) and a copied cookie stops working.
CREATE TABLE web_sessions (
    id              bigserial PRIMARY KEY,
    token_sha256    text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    user_id         integer NOT NULL REFERENCES users(id),
    client          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    ended_reason    text,
    CHECK (ended_at IS NULL OR ended_reason IS NOT NULL)
);
CREATE INDEX web_sessions_live ON web_sessions (user_id) WHERE ended_at IS NULL;

-- Every login attempt, kept for the throttle (failures per account and per client) and for audit.
CREATE TABLE login_attempts (
    id              bigserial PRIMARY KEY,
    attempted_at    timestamptz NOT NULL DEFAULT now(),
    username        text NOT NULL,
    client          text NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('ok', 'failed', 'throttled'))
);
CREATE INDEX login_attempts_username ON login_attempts (username, attempted_at);
CREATE INDEX login_attempts_client ON login_attempts (client, attempted_at);

-- +goose Up
-- Dashboard sign-in sessions. The browser holds an opaque 256-bit token;
-- only its SHA-256 (id) is stored, so a copy of the database cannot be used
-- to sign in. credential_hash is the SHA-256 of the API key used to sign in:
-- a session of the ADMIN_API_KEY credential (which has no api_keys row)
-- ends when that variable changes.
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    key_id          TEXT NOT NULL,
    credential_hash TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    last_seen_at    TIMESTAMP NOT NULL,
    user_agent      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_key ON sessions (key_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;

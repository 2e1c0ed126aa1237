-- +goose Up
-- Messages about requests on Slack, Discord and email (one row per channel
-- target, created in the sealing transaction of the event that caused it),
-- single-use email decision links, and the signatures of chat interactions
-- already handled (replay guard).

CREATE TABLE notifications (
    id               TEXT PRIMARY KEY,
    request_id       TEXT NOT NULL REFERENCES requests (id),
    channel          TEXT NOT NULL,     -- slack | discord | email
    target           TEXT NOT NULL,     -- as routed: #ops, C123, a Discord channel id, an address
    reason           TEXT NOT NULL,     -- created | escalated
    step             INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL,     -- pending | sent | failed | skipped
    external_channel TEXT,              -- Slack/Discord channel id of the posted message
    external_id      TEXT,              -- Slack ts, Discord message id, email Message-ID
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ
);
CREATE INDEX notifications_request ON notifications (request_id, created_at);

-- The token is only in the email; its SHA-256 is kept.
CREATE TABLE decision_links (
    id              TEXT PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
    request_id      TEXT NOT NULL REFERENCES requests (id),
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    recipient       TEXT NOT NULL,
    decision        TEXT NOT NULL,      -- approved | denied
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ,
    invalidated_at  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX decision_links_recipient ON decision_links (request_id, recipient);
CREATE INDEX decision_links_notification ON decision_links (notification_id);

CREATE TABLE interaction_replays (
    key        TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX interaction_replays_expiry ON interaction_replays (expires_at);

-- +goose Down
DROP TABLE interaction_replays;
DROP TABLE decision_links;
DROP TABLE notifications;

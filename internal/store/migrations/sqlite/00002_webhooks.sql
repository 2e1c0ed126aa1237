-- +goose Up
-- Webhook subscriptions, their deliveries (one row per event per
-- subscription, created in the transaction of the change that caused it)
-- and every HTTP attempt of a delivery.

-- A deleted webhook keeps its row (deleted_at set) so that its delivery
-- log stays readable and its pending deliveries can record why they stopped.
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,          -- JSON array of event names, or ["*"]
    secret      TEXT NOT NULL,          -- plaintext, or "enc:v1:" + AES-256-GCM sealed
    enabled     INTEGER NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    deleted_at  TIMESTAMP
);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id),
    event            TEXT NOT NULL,
    request_id       TEXT,
    data             TEXT NOT NULL,     -- the payload's "data" object, sent byte for byte on every attempt
    status           TEXT NOT NULL,     -- pending | success | failed | canceled
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error       TEXT,
    next_attempt_at  TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    completed_at     TIMESTAMP
) WITHOUT ROWID; -- keyed by id alone: one b-tree less to write per delivery
-- One index serves the delivery log, filtered or not: every row written in
-- a request's transaction costs a page write per index, and a status
-- filter scans one webhook's range (its total is counted over it anyway).
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at);

CREATE TABLE webhook_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id   TEXT NOT NULL REFERENCES webhook_deliveries (id),
    attempt       INTEGER NOT NULL,
    status_code   INTEGER,
    error         TEXT,
    response_body TEXT,                 -- at most 4 KiB
    duration_ms   INTEGER NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- Bumped by every webhook write, so each process knows when its cached
-- subscription list is stale.
INSERT INTO counters (name, value) VALUES ('webhook_generation', 0);

-- +goose Down
DELETE FROM counters WHERE name = 'webhook_generation';
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;

-- +goose Up
-- Times are stored as UTC text in the modernc "sqlite" format, which sorts
-- and compares correctly as long as every value is UTC (the store ensures it).

CREATE TABLE requests (
    id               TEXT PRIMARY KEY,
    action           TEXT NOT NULL,
    params           TEXT NOT NULL DEFAULT '{}',
    context          TEXT NOT NULL DEFAULT '{}',
    urgency          TEXT NOT NULL,
    urgency_rank     INTEGER NOT NULL,
    status           TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    decided_at       TIMESTAMP,
    decided_by       TEXT,
    decided_by_id    TEXT,
    decided_by_type  TEXT,
    decided_by_label TEXT,
    decision_reason  TEXT,
    expires_at       TIMESTAMP,
    policy_decision  TEXT NOT NULL DEFAULT '{}',
    agent_id         TEXT NOT NULL,
    agent_name       TEXT NOT NULL,
    idempotency_key  TEXT,
    request_hash     TEXT
);
CREATE INDEX requests_created_at ON requests (created_at);
CREATE INDEX requests_status_created_at ON requests (status, created_at);
CREATE INDEX requests_action_created_at ON requests (action, created_at);
CREATE INDEX requests_queue ON requests (status, urgency_rank DESC, created_at);
CREATE INDEX requests_pending_expiry ON requests (expires_at) WHERE status = 'pending';
CREATE UNIQUE INDEX requests_idempotency ON requests (agent_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- One row per decision, human or automatic; quorum votes build on it.
CREATE TABLE decisions (
    id          TEXT PRIMARY KEY,
    request_id  TEXT NOT NULL REFERENCES requests (id),
    outcome     TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    channel     TEXT NOT NULL,
    label       TEXT,
    reason      TEXT,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX decisions_request ON decisions (request_id, created_at);

-- Append-only. seq/prev_hash/hash are filled by the chain sealer after
-- commit, in commit order, so writers never wait on the chain head.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id  TEXT,
    event_type  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    actor_type  TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMP NOT NULL,
    seq         INTEGER UNIQUE,
    prev_hash   TEXT,
    hash        TEXT
);
CREATE INDEX audit_events_request ON audit_events (request_id, id);
CREATE INDEX audit_events_created_at ON audit_events (created_at);
CREATE INDEX audit_events_type ON audit_events (event_type, id);
CREATE INDEX audit_events_actor ON audit_events (actor, id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    rate_limit   INTEGER,
    created_at   TIMESTAMP NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);

CREATE TABLE policies (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    enabled     INTEGER NOT NULL,
    scope       TEXT NOT NULL,
    agent_ids   TEXT NOT NULL DEFAULT '[]',
    tool_ids    TEXT NOT NULL DEFAULT '[]',
    rules       TEXT NOT NULL,
    source      TEXT NOT NULL DEFAULT 'api',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- Small named counters; policy_generation changes with every policy write
-- so each process knows when its compiled policy cache is stale.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('policy_generation', 0);

-- One-time markers such as "the first admin key was created".
CREATE TABLE markers (
    name       TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE markers;
DROP TABLE counters;
DROP TABLE policies;
DROP TABLE api_keys;
DROP TABLE audit_events;
DROP TABLE decisions;
DROP TABLE requests;

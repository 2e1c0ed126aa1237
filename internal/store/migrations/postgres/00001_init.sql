-- +goose Up
-- JSON documents are kept as text so that they round-trip byte for byte
-- (jsonb would reorder keys, which breaks audit hashes and echoes).

CREATE TABLE requests (
    id               TEXT PRIMARY KEY,
    action           TEXT NOT NULL,
    params           TEXT NOT NULL DEFAULT '{}',
    context          TEXT NOT NULL DEFAULT '{}',
    urgency          TEXT NOT NULL,
    urgency_rank     SMALLINT NOT NULL,
    status           TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    decided_at       TIMESTAMPTZ,
    decided_by       TEXT,
    decided_by_id    TEXT,
    decided_by_type  TEXT,
    decided_by_label TEXT,
    decision_reason  TEXT,
    expires_at       TIMESTAMPTZ,
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
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX decisions_request ON decisions (request_id, created_at);

CREATE TABLE audit_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id  TEXT,
    event_type  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    actor_type  TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL,
    seq         BIGINT UNIQUE,
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
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE TABLE policies (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    enabled     BOOLEAN NOT NULL,
    scope       TEXT NOT NULL,
    agent_ids   TEXT NOT NULL DEFAULT '[]',
    tool_ids    TEXT NOT NULL DEFAULT '[]',
    rules       TEXT NOT NULL,
    source      TEXT NOT NULL DEFAULT 'api',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('policy_generation', 0);

CREATE TABLE markers (
    name       TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE markers;
DROP TABLE counters;
DROP TABLE policies;
DROP TABLE api_keys;
DROP TABLE audit_events;
DROP TABLE decisions;
DROP TABLE requests;

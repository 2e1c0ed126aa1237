-- +goose Up
-- Quorum votes, edited params, escalation progress; approver groups;
-- time-boxed grants.
ALTER TABLE requests ADD COLUMN approved_params TEXT;
ALTER TABLE requests ADD COLUMN approval_votes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN grant_id TEXT;

-- One approving vote per identity and request.
CREATE UNIQUE INDEX decisions_one_vote ON decisions (request_id, actor_id) WHERE outcome = 'approved';

CREATE TABLE approver_groups (
    name        TEXT PRIMARY KEY,
    members     TEXT NOT NULL,
    source      TEXT NOT NULL DEFAULT 'api',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE grants (
    id             TEXT PRIMARY KEY,
    agent_id       TEXT NOT NULL,
    action         TEXT NOT NULL,
    conditions     TEXT,
    expires_at     TIMESTAMP NOT NULL,
    max_uses       INTEGER,
    uses           INTEGER NOT NULL DEFAULT 0,
    request_id     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_by_id  TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    revoked_at     TIMESTAMP,
    revoked_by     TEXT
);
CREATE INDEX grants_lookup ON grants (agent_id, action, expires_at);

-- +goose Down
DROP TABLE grants;
DROP TABLE approver_groups;
DROP INDEX decisions_one_vote;

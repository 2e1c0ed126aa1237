-- +goose Up
-- The head of the audit hash chain: the last sealed seq and its hash.
-- Kept apart from the events so that deleting the newest events is caught.
CREATE TABLE audit_chain (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE INDEX audit_events_unsealed ON audit_events (id) WHERE seq IS NULL;

-- +goose Down
DROP INDEX audit_events_unsealed;
DROP TABLE audit_chain;

-- Several writers on one database (issue 11); see the PostgreSQL migration of the same
-- number. SQLite stays single-process (`wagegate serve` holds a lock file), but the store
-- behaves the same on both.
ALTER TABLE webhook_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE webhook_outbox ADD COLUMN claimed_until TEXT;
CREATE INDEX webhook_outbox_finding ON webhook_outbox (finding_id, seq) WHERE status = 'pending';

ALTER TABLE dirty_projects ADD COLUMN last_marked_at TEXT NOT NULL DEFAULT '';
UPDATE dirty_projects SET last_marked_at = marked_at;
ALTER TABLE dirty_projects ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dirty_projects ADD COLUMN claimed_by TEXT;
ALTER TABLE dirty_projects ADD COLUMN claimed_until TEXT;

CREATE TABLE reconcile_passes (
    pass       TEXT PRIMARY KEY,
    started_by TEXT NOT NULL,
    started_at TEXT NOT NULL
);

-- The last file of each partner (a /metrics gauge): one index look-up per partner.
CREATE INDEX raw_files_sender_received ON raw_files (sender, received_at);

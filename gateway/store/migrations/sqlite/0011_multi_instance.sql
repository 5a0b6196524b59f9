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

-- The project as a distribution key on the two tables that only named their finding
-- (docs/storage.md, "Beyond one database server"): every project-scoped table now carries it.
-- Nullable so that an instance of the previous version, still running during a rolling
-- upgrade, can insert without it (docs/storage.md gives the UPDATE that fills those in).
ALTER TABLE finding_events ADD COLUMN project TEXT;
UPDATE finding_events SET project = (SELECT f.project FROM findings f WHERE f.id = finding_events.finding_id);
ALTER TABLE webhook_outbox ADD COLUMN project TEXT;
UPDATE webhook_outbox SET project = (SELECT f.project FROM findings f WHERE f.id = webhook_outbox.finding_id);

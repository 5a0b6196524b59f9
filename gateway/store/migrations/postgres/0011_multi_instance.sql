-- Several gateway processes on one database (issue 11).
--
-- Webhook outbox: a sender claims an event with a lease before sending it; a process that
-- dies leaves a lease that runs out, and the event is claimed again (and sent again with the
-- same idempotency key). Only the oldest pending event of a finding can be claimed, so events
-- of one finding are delivered in order.
ALTER TABLE webhook_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE webhook_outbox ADD COLUMN claimed_until TIMESTAMPTZ;
CREATE INDEX webhook_outbox_finding ON webhook_outbox (finding_id, seq) WHERE status = 'pending';

-- Dirty projects: claimed with a lease while reconciled (one process per project at a time);
-- `generation` counts marks, so a project marked again while being reconciled stays queued;
-- `last_marked_at` is the latest mark, for the quiet period after pushes.
ALTER TABLE dirty_projects ADD COLUMN last_marked_at TIMESTAMPTZ;
UPDATE dirty_projects SET last_marked_at = marked_at;
ALTER TABLE dirty_projects ALTER COLUMN last_marked_at SET NOT NULL;
ALTER TABLE dirty_projects ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE dirty_projects ADD COLUMN claimed_by TEXT;
ALTER TABLE dirty_projects ADD COLUMN claimed_until TIMESTAMPTZ;

-- One row per daily full reconciliation: the first process to insert it queues every project;
-- the others do not, and all of them share the queued work.
CREATE TABLE reconcile_passes (
    pass       TEXT PRIMARY KEY,
    started_by TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL
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

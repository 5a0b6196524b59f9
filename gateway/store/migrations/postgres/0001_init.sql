-- wagegate store, PostgreSQL dialect. Times are TIMESTAMPTZ. Money is BIGINT fen. JSON is text (compared by hash, never queried inside).

-- Every inbound file, stored before anything is parsed. The id is derived from
-- (sender, sha256), so the same bytes from the same sender are stored once.
CREATE TABLE raw_files (
    id              TEXT PRIMARY KEY,
    sender          TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    file_name       TEXT,
    format_hint     TEXT,
    size_bytes      BIGINT NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('received', 'parsed', 'rejected')),
    error           TEXT,
    detected_format TEXT,
    diagnostics     TEXT NOT NULL DEFAULT '[]',
    records_count   BIGINT NOT NULL DEFAULT 0,
    attempts        BIGINT NOT NULL DEFAULT 0,
    claimed_by      TEXT,
    claimed_until   TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (sender, sha256)
);
CREATE INDEX raw_files_status ON raw_files (status, received_at, id);

-- The bytes, in chunks of at most 1 MiB, so that a large upload never has to sit in memory whole.
CREATE TABLE raw_file_chunks (
    file_id TEXT NOT NULL REFERENCES raw_files (id) ON DELETE CASCADE,
    seq     BIGINT NOT NULL,
    data    BYTEA NOT NULL,
    PRIMARY KEY (file_id, seq)
);

-- Facts (bank data) and registry records, one row per deterministic key.
CREATE TABLE records (
    kind         TEXT NOT NULL,
    key          TEXT NOT NULL,
    project      TEXT,
    account      TEXT,
    file_id      TEXT,
    content_hash TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX records_project ON records (project) WHERE project IS NOT NULL;
CREATE INDEX records_account ON records (account) WHERE account IS NOT NULL;

-- The same key delivered again with different content: kept, never applied.
CREATE TABLE record_conflicts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT NOT NULL,
    key           TEXT NOT NULL,
    project       TEXT,
    account       TEXT,
    existing_file TEXT,
    new_file      TEXT NOT NULL,
    existing_hash TEXT NOT NULL,
    new_hash      TEXT NOT NULL,
    new_body      TEXT NOT NULL,
    at            TIMESTAMPTZ NOT NULL,
    UNIQUE (kind, key, new_file, new_hash)
);
CREATE INDEX record_conflicts_project ON record_conflicts (project);
CREATE INDEX record_conflicts_account ON record_conflicts (account);

-- Projects whose facts changed since they were last reconciled.
CREATE TABLE dirty_projects (
    project   TEXT PRIMARY KEY,
    marked_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE findings (
    id               TEXT PRIMARY KEY,
    code             TEXT NOT NULL,
    project          TEXT NOT NULL,
    period           TEXT NOT NULL,
    amount_short_fen BIGINT NOT NULL,
    severity         TEXT NOT NULL,
    severity_rank    BIGINT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved', 'dismissed')),
    summary          TEXT NOT NULL,
    basis            TEXT NOT NULL,
    body             TEXT NOT NULL,
    content_hash     TEXT NOT NULL,
    first_seen       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    status_reason    TEXT,
    last_event       TEXT NOT NULL
);
CREATE INDEX findings_order ON findings (severity_rank DESC, project, code, id);
CREATE INDEX findings_project ON findings (project, status);
CREATE INDEX findings_status ON findings (status);

CREATE TABLE finding_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_id  TEXT NOT NULL REFERENCES findings (id),
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    reason      TEXT
);
CREATE INDEX finding_events_finding ON finding_events (finding_id, id);

-- Webhook events, written in the same transaction as the finding change they announce.
CREATE TABLE webhook_outbox (
    id              TEXT PRIMARY KEY,
    event_type      TEXT NOT NULL,
    finding_id      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ,
    seq             BIGINT NOT NULL
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (status, next_attempt_at, seq);

CREATE TABLE operator_tokens (
    token_sha256 TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);

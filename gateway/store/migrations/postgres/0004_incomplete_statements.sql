-- Statements stored although incomplete (an MT940 without its closing balance :62F:,
-- accepted for a partner that tolerates it), by identity (account, statement id, sequence,
-- opening date, kind: `Statement::identity_key`). A later complete delivery of the same
-- statement replaces the stored record in the same transaction and is recorded here
-- (superseded_by_*); the row is kept, so that a stale incomplete copy arriving after the
-- complete one is recognised and not stored.
CREATE TABLE incomplete_statements (
    identity           TEXT NOT NULL,
    key                TEXT NOT NULL,
    account            TEXT,
    file_id            TEXT NOT NULL,
    stored_at          TIMESTAMPTZ NOT NULL,
    superseded_by_key  TEXT,
    superseded_by_file TEXT,
    superseded_at      TIMESTAMPTZ,
    PRIMARY KEY (identity, key)
);

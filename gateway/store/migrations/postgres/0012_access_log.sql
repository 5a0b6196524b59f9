-- Who saw personal data in full, and what: the operator console's reveals of ID and card
-- numbers (docs/console.md, "Personal data"). Rows are only ever added.
CREATE TABLE IF NOT EXISTS access_log (
    seq     BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_log_subject ON access_log (subject, seq);

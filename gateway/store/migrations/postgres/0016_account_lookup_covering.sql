-- The project of a file's accounts, looked up for every file written (`records::account_projects`),
-- read from the index alone (an index-only scan where the visibility map allows): the account
-- records' rows are scattered through `records`. The SQLite migration of the same number has the
-- measurement.
DROP INDEX IF EXISTS records_account_of;
CREATE INDEX records_account_of ON records (account, key, project, kind) WHERE kind = 'account';

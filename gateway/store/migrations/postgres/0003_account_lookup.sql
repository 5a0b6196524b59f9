-- Account records by account number. Ingest looks the project of a file's accounts up for
-- every file; the primary key's `kind` prefix alone would walk every account record.
CREATE INDEX IF NOT EXISTS records_account_of ON records (account, key) WHERE kind = 'account';

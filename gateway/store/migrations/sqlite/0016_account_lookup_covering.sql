-- The project of a file's accounts, looked up for every file written (`records::account_projects`),
-- read from the index alone: the account records' rows are scattered through `records`, and a
-- seek into the table for each of up to 250 accounts a lookup was most of that lookup's time.
-- `kind` is in the index too, or SQLite would not count the index as covering. The lookup
-- names this index (`INDEXED BY`): with 250 accounts in its `IN` list and no statistics, the
-- planner preferred to walk every account record through the primary key's `kind` prefix —
-- a cost that grew with the number of registered accounts (a 0.3x province: 18,104 lookups,
-- 35.6 s of a 206 s backfill).
DROP INDEX IF EXISTS records_account_of;
CREATE INDEX records_account_of ON records (account, key, project, kind) WHERE kind = 'account';

-- The project a record belongs to: its own project, or the project of its account (facts
-- such as statements name only the account). '' while the account is not registered.
-- Kept up to date when an account is registered or moved, so that loads select and order by
-- one indexed column and a full load can be streamed project by project.
ALTER TABLE records ADD COLUMN owner TEXT NOT NULL DEFAULT '';
UPDATE records SET owner = COALESCE(
    project,
    (SELECT a.project FROM records a
      WHERE a.kind = 'account' AND a.account = records.account AND a.project IS NOT NULL
      ORDER BY a.key LIMIT 1),
    '');
CREATE INDEX records_owner ON records (owner, kind, key);
DROP INDEX records_project;

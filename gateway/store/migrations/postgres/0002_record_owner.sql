-- The project a record belongs to: its own project, or the project of its account (facts
-- such as statements name only the account). '' while the account is not registered.
-- Kept up to date when an account is registered or moved, so that loads select and order by
-- one indexed column and a full load can be streamed project by project.
ALTER TABLE records ADD COLUMN owner TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE records SET owner = COALESCE(
    project,
    (SELECT a.project FROM records a
      WHERE a.kind = 'account' AND a.account = records.account AND a.project IS NOT NULL
      ORDER BY a.key LIMIT 1),
    '');
CREATE INDEX records_owner ON records (owner, kind, key);
DROP INDEX records_project;

-- Text that is ordered on compares byte-wise, as in SQLite, whatever the server's locale:
-- both backends list findings and stream records in the same order.
ALTER TABLE records ALTER COLUMN kind TYPE TEXT COLLATE "C", ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE findings ALTER COLUMN id TYPE TEXT COLLATE "C", ALTER COLUMN project TYPE TEXT COLLATE "C",
    ALTER COLUMN code TYPE TEXT COLLATE "C";
ALTER TABLE finding_events ALTER COLUMN finding_id TYPE TEXT COLLATE "C";
ALTER TABLE dirty_projects ALTER COLUMN project TYPE TEXT COLLATE "C";
ALTER TABLE raw_files ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE raw_file_chunks ALTER COLUMN file_id TYPE TEXT COLLATE "C";

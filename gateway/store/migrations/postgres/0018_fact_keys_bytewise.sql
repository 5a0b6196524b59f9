-- The typed fact tables' keys compare byte by byte (COLLATE "C"), as `records`' keys do
-- (0002) and as SQLite compares them. Under the database's own collation (a Chinese server's
-- zh_CN.UTF-8, or ICU's zh-Hans-CN) every comparison in their primary keys went through the
-- collation: a 0.1x province backfill into an ICU zh-Hans-CN database took 10 % more server
-- CPU than into a C.UTF-8 one. Nothing is shown in the order of these columns. Changing a
-- column's collation rebuilds the indexes on it, not the table.
ALTER TABLE fact_projects ALTER COLUMN owner TYPE TEXT COLLATE "C", ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE fact_accounts ALTER COLUMN owner TYPE TEXT COLLATE "C", ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE fact_obligations ALTER COLUMN owner TYPE TEXT COLLATE "C", ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE fact_paysheet ALTER COLUMN owner TYPE TEXT COLLATE "C", ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE fact_roster ALTER COLUMN owner TYPE TEXT COLLATE "C", ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE fact_guarantee_requirements ALTER COLUMN owner TYPE TEXT COLLATE "C", ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE fact_statements ALTER COLUMN owner TYPE TEXT COLLATE "C", ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE fact_payments ALTER COLUMN owner TYPE TEXT COLLATE "C", ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE fact_batches ALTER COLUMN owner TYPE TEXT COLLATE "C", ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE fact_guarantees ALTER COLUMN owner TYPE TEXT COLLATE "C", ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE fact_entries ALTER COLUMN owner TYPE TEXT COLLATE "C", ALTER COLUMN statement_key TYPE TEXT COLLATE "C";
ALTER TABLE fact_undecodable ALTER COLUMN owner TYPE TEXT COLLATE "C", ALTER COLUMN kind TYPE TEXT COLLATE "C",
    ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE project_facts ALTER COLUMN project TYPE TEXT COLLATE "C";
ALTER TABLE project_reconciled ALTER COLUMN project TYPE TEXT COLLATE "C";

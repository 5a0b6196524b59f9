-- `records` loses its index on the owner. Every record's owner is also the first column of
-- the key of its typed fact table (or `fact_undecodable`), and the reads by owner (the
-- console's evidence of a project, the conflicts of a chunk of projects, `stream_records`)
-- now find a project's records there and each record by its own key. The index was one more B-tree written per record, at a random
-- place within its project, and ≈ 7 % of a province backfill's pages (docs/BENCHMARKS.md).
-- The typed-fact backfill of a database written before 0013 builds one for its run.
DROP INDEX IF EXISTS records_owner;

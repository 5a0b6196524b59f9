-- Raw files are stored as they came, in chunks large enough to be compressed out of line
-- (TOAST). PostgreSQL's default compression (pglz) cost a backfill about a fifteenth of the
-- server's time (`pglz_compress` under `toast_compress_datum`, perf, 0.1x province world);
-- lz4 compresses bank files' XML and text at several times its speed. Chunks stored before
-- stay as they are (each chunk names its own method). A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE raw_file_chunks ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no lz4: raw files stay compressed with pglz';
END $$;

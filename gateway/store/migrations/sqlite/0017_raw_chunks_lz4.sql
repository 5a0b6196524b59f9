-- PostgreSQL compresses raw file chunks with lz4 from here on (its migration of the same
-- number). SQLite stores chunks as they came: nothing to change. Kept so that both folders
-- number their migrations alike.
SELECT 1;

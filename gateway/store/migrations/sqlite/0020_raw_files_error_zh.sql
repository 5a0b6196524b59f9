-- A refused file's reason in Simplified Chinese beside the English `error` (what an operator
-- reads by default; `--lang en` and the logs keep the English). NULL for files refused before
-- this column, which are shown in English.
ALTER TABLE raw_files ADD COLUMN error_zh TEXT;

-- How many times a project's stored findings were changed by hand (acknowledged, dismissed,
-- resolved by an operator). A pass records a project's reconciliation only if this count is
-- still the one it read before computing: an operator's action in between (the findings
-- already synced, the record not yet written) makes the next pass compute the project again
-- instead of skipping it (issue 14; gateway/store/src/backend/facts.rs, `forget`).
ALTER TABLE project_reconciled ADD COLUMN hand_changes BIGINT NOT NULL DEFAULT 0;

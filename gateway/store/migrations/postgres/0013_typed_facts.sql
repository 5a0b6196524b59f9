-- Facts the reconciler reads, as typed columns (issue 14): one table per record kind, with
-- the fields the reconciler needs (BIGINT fen, dates as DATE, ids and references as text), clustered
-- by the owning project (primary key (owner, key); PostgreSQL keeps the index ordered and `CLUSTER`s nothing: the scan reads the index range and the heap), so that a chunk of projects is read in one ordered
-- scan per table and decoded without JSON. `records` keeps the raw JSON body (evidence,
-- explain, replay, conflicts); `owner` and `key` are the record's (`records.owner`, `records.key`).
-- Written in the same transaction as the records (gateway/store/src/backend/facts.rs).
-- An existing database is filled from `records` when the store opens (the row below says the
-- backfill is still to do; `facts::backfill`).

CREATE TABLE fact_projects (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    province TEXT NOT NULL,
    cu_name TEXT NOT NULL,
    cu_credit_code TEXT NOT NULL,
    gc_name TEXT NOT NULL,
    gc_credit_code TEXT NOT NULL,
    subcontractors TEXT NOT NULL,
    contract_fen BIGINT NOT NULL,
    start_date DATE NOT NULL,
    planned_end_date DATE NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE TABLE fact_accounts (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    account_no TEXT NOT NULL,
    account_name TEXT NOT NULL,
    project_code TEXT NOT NULL,
    bank_code TEXT NOT NULL,
    cnaps TEXT NOT NULL,
    opened_on DATE NOT NULL,
    currency TEXT NOT NULL,
    payer_accounts TEXT NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE TABLE fact_obligations (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    obligation_id TEXT NOT NULL,
    project_code TEXT NOT NULL,
    period TEXT NOT NULL,
    due_date DATE NOT NULL,
    amount_fen BIGINT NOT NULL,
    ratio TEXT,
    progress_fen BIGINT,
    PRIMARY KEY (owner, key)
);
CREATE TABLE fact_paysheet (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    project_code TEXT NOT NULL,
    period TEXT NOT NULL,
    employer TEXT NOT NULL,
    worker_name TEXT NOT NULL,
    id_number TEXT NOT NULL,
    card_number TEXT NOT NULL,
    gross_fen BIGINT NOT NULL,
    net_fen BIGINT NOT NULL,
    batch_ref TEXT,
    PRIMARY KEY (owner, key)
);
CREATE TABLE fact_roster (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    project_code TEXT NOT NULL,
    worker_name TEXT NOT NULL,
    id_number TEXT NOT NULL,
    card_number TEXT NOT NULL,
    employer TEXT,
    entered_on DATE,
    left_on DATE,
    PRIMARY KEY (owner, key)
);
CREATE TABLE fact_guarantee_requirements (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    project_code TEXT NOT NULL,
    contract_fen BIGINT NOT NULL,
    contractor_credit TEXT NOT NULL,
    rate TEXT,
    cap_fen BIGINT,
    cover_from DATE NOT NULL,
    cover_to DATE NOT NULL,
    cash_deposit_fen BIGINT NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE TABLE fact_statements (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    kind TEXT NOT NULL,
    statement_id TEXT,
    sequence TEXT,
    opening_fen BIGINT,
    opening_date DATE,
    closing_fen BIGINT,
    closing_date DATE,
    incomplete BOOLEAN NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE TABLE fact_payments (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    batch_id TEXT,
    end_to_end_id TEXT,
    debit_account TEXT,
    worker_name TEXT,
    id_number TEXT,
    card_number TEXT,
    amount_fen BIGINT,
    status TEXT NOT NULL,
    reason TEXT,
    reason_code TEXT,
    reason_text TEXT,
    raw_status TEXT,
    pay_date DATE,
    period TEXT,
    PRIMARY KEY (owner, key)
);
CREATE TABLE fact_batches (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    debit_account TEXT,
    pay_date DATE,
    declared_count BIGINT,
    declared_total_fen BIGINT,
    group_status TEXT,
    PRIMARY KEY (owner, key)
);
CREATE TABLE fact_guarantees (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    number TEXT NOT NULL,
    verification_code TEXT,
    form TEXT NOT NULL,
    issuer_name TEXT NOT NULL,
    issuer_code TEXT NOT NULL,
    applicant_name TEXT NOT NULL,
    applicant_credit_code TEXT NOT NULL,
    beneficiary TEXT NOT NULL,
    project_code TEXT NOT NULL,
    project_name TEXT,
    contract_fen BIGINT,
    guaranteed_fen BIGINT NOT NULL,
    valid_from DATE NOT NULL,
    valid_to DATE NOT NULL,
    irrevocable_on_demand BOOLEAN NOT NULL,
    action TEXT NOT NULL,
    previous_number TEXT,
    status TEXT NOT NULL,
    event_date DATE NOT NULL,
    claim_fen BIGINT,
    document_hash TEXT,
    PRIMARY KEY (owner, key)
);
-- A statement's entries, in their order (seq), beside their statement.
CREATE TABLE fact_entries (
    owner TEXT NOT NULL,
    statement_key TEXT NOT NULL,
    seq BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    direction TEXT NOT NULL,
    booking_date DATE NOT NULL,
    value_date DATE,
    bank_ref TEXT,
    end_to_end_id TEXT,
    counterparty_name TEXT,
    counterparty_account TEXT,
    remittance TEXT,
    reversal BOOLEAN NOT NULL,
    transaction_code TEXT,
    batch_ref TEXT,
    balance_after_fen BIGINT,
    PRIMARY KEY (owner, statement_key, seq)
);
-- A record whose stored body does not read as its kind (the store takes any body; everything
-- wagegate writes is the canonical record, so this holds only corrupt or foreign data): the
-- reconciliation of its project fails naming it, as decoding it did before.
CREATE TABLE fact_undecodable (
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (owner, kind, key)
);
-- An account may move to another project (a registry update): found by key.
CREATE INDEX fact_accounts_key ON fact_accounts (key);
-- Per project, a fingerprint of its facts: a hash chained over the content hashes of every
-- write that touched the project (records, conflicts, moves). Equal fingerprints: no fact of
-- the project changed in between.
CREATE TABLE project_facts (
    project     TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
);
-- Per project, what the last reconciliation saw: the fingerprint, the rules (configuration
-- hash), the as-of date and the first later date on which its findings can change (NULL:
-- none). A pass skips a project whose fingerprint and rules are the same and whose as-of
-- date is in [as_of, valid_until).
CREATE TABLE project_reconciled (
    project     TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    rules       TEXT NOT NULL,
    as_of       DATE NOT NULL,
    valid_until DATE
);
-- One row per one-off data step; `done` false until it ran (see the header).
CREATE TABLE store_backfills (
    name TEXT PRIMARY KEY,
    done BOOLEAN NOT NULL
);
INSERT INTO store_backfills (name, done) VALUES ('typed_facts', FALSE);

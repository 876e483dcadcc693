-- What the Postgres-only strategies (`pg-row-lock`, `pg-optimistic`) need beside the
-- shop's tables; the reference (`redis-lua`) never reads or writes any of it, and its
-- ledger writer names its columns, so a new column with a default leaves it unchanged.
--
-- Those strategies write `skus`, `reservations`, `reservation_items` and `ledger`
-- themselves, in the request's own transaction: the ledger is their audit trail,
-- never their source of stock.

-- pg-optimistic's compare-and-set column: every change of a row by that strategy
-- bumps it, and an UPDATE that names a stale version changes nothing.
ALTER TABLE skus ADD COLUMN version bigint NOT NULL DEFAULT 0;

-- Ledger seq for the Postgres strategies (the reference numbers events in Redis).
-- A sequence never blocks concurrent transactions on one counter, and is not
-- gap-free: a rolled-back transaction leaves its numbers unused. The ledger rows of
-- one transaction commit with the stock change they record, so a gap is an aborted
-- attempt, never a lost event.
CREATE SEQUENCE ledger_seq_postgres_strategies AS bigint START 1;

-- One idempotency key, one reservation: the primary key makes a concurrent second
-- reserve with the key wait for the first and then see it (never check-then-insert).
-- `items` is the canonical cart (`sku qty` pairs sorted by SKU) the key is bound to;
-- the key is free again once `expires_ms` (the reservation's deadline plus the
-- retention, Postgres time) has passed, as the reference's key marker expires.
CREATE TABLE idempotency_keys (
    idempotency_key text   PRIMARY KEY,
    reservation_id  text   NOT NULL,
    items           text   NOT NULL,
    expires_ms      bigint NOT NULL
);

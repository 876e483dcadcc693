-- The Postgres side of one shop (DESIGN §3): the ledger (every event the Redis scripts
-- appended to the stream, numbered by seq, gap-free) and the projections the ledger
-- writer derives from it in the same transaction. One database per shop: the tables
-- carry no shop column, and seq is the shop's own counter.
--
-- CHECK constraints are the last line of defence: no count can go negative and
-- available + reserved + sold = total holds on every row, so a writer bug or a corrupt
-- event aborts the batch instead of storing an impossible stock.

CREATE TABLE ledger (
    seq             bigint      PRIMARY KEY CHECK (seq > 0),
    kind            text        NOT NULL
        CHECK (kind IN ('restock', 'adjust', 'reserve', 'confirm', 'release', 'expire')),
    sku             text        NOT NULL CHECK (sku <> ''),
    -- Positive except for adjust, where it is the signed delta.
    qty             bigint      NOT NULL CHECK (qty > 0 OR (kind = 'adjust' AND qty <> 0)),
    -- Empty where the kind has no reservation / key; deadline 0 except on reserve.
    reservation_id  text        NOT NULL DEFAULT '',
    idempotency_key text        NOT NULL DEFAULT '',
    deadline_ms     bigint      NOT NULL DEFAULT 0,
    -- Redis server time of the change.
    at_ms           bigint      NOT NULL,
    -- Postgres time of the write: written_at - at_ms is the writer's lag.
    written_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ledger_reservation ON ledger (reservation_id) WHERE reservation_id <> '';

CREATE TABLE skus (
    sku       text   PRIMARY KEY,
    available bigint NOT NULL CHECK (available >= 0),
    reserved  bigint NOT NULL CHECK (reserved >= 0),
    sold      bigint NOT NULL CHECK (sold >= 0),
    total     bigint NOT NULL CHECK (total >= 0),
    -- Seq of the last ledger event applied to this row.
    last_seq  bigint NOT NULL CHECK (last_seq >= 0),
    CONSTRAINT skus_balanced CHECK (available + reserved + sold = total)
);

CREATE TABLE reservations (
    id              text   PRIMARY KEY,
    idempotency_key text   NOT NULL,
    state           text   NOT NULL
        CHECK (state IN ('held', 'confirmed', 'released', 'expired')),
    deadline_ms     bigint NOT NULL,
    created_ms      bigint NOT NULL,
    -- Redis time of the terminal event; NULL exactly while Held.
    terminal_at_ms  bigint,
    last_seq        bigint NOT NULL CHECK (last_seq > 0),
    CONSTRAINT reservations_terminal_time CHECK ((state = 'held') = (terminal_at_ms IS NULL))
);

CREATE INDEX reservations_held ON reservations (deadline_ms) WHERE state = 'held';

CREATE TABLE reservation_items (
    reservation_id text   NOT NULL REFERENCES reservations (id),
    sku            text   NOT NULL,
    qty            bigint NOT NULL CHECK (qty > 0),
    PRIMARY KEY (reservation_id, sku)
);

-- The durable ledger of reservations. PostgreSQL is the source of truth: the hot state
-- in Redis is rebuilt from these rows. The constraints are the last line of defence
-- against overbooking, whatever the hot state says.

CREATE TABLE reservations (
    id                   uuid        PRIMARY KEY,          -- also the claim id in the hot state
    reference            text        NOT NULL UNIQUE,      -- public, 128 random bits
    office_id            text        NOT NULL,
    procedure            text        NOT NULL,
    slot_start           timestamptz NOT NULL,
    slot_end             timestamptz NOT NULL,
    seat                 integer     NOT NULL,
    capacity             integer     NOT NULL,
    status               text        NOT NULL,
    resident_name        text,                             -- removed after the retention period
    resident_hash        bytea,                            -- keyed hash of the identity, never the identity
    proxy                boolean     NOT NULL DEFAULT false,
    idempotency_key_hash bytea,
    request_fingerprint  bytea,
    hold_expires_at      timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT reservations_status_known
        CHECK (status IN ('held', 'confirmed', 'cancelled', 'expired', 'lapsed')),
    CONSTRAINT reservations_seat_within_capacity CHECK (seat >= 0 AND seat < capacity),
    CONSTRAINT reservations_slot_order CHECK (slot_end > slot_start),
    CONSTRAINT reservations_confirmed_has_resident
        CHECK (status <> 'confirmed' OR resident_hash IS NOT NULL),
    CONSTRAINT reservations_held_expires CHECK (status <> 'held' OR hold_expires_at IS NOT NULL)
);

-- One active reservation per seat of a slot: with seat < capacity, a slot can never hold
-- more active reservations than its capacity.
CREATE UNIQUE INDEX reservations_active_seat_key
    ON reservations (office_id, procedure, slot_start, seat)
    WHERE status IN ('held', 'confirmed');

-- One active booking per resident and procedure, across all offices.
CREATE UNIQUE INDEX reservations_active_resident_key
    ON reservations (resident_hash, procedure)
    WHERE status = 'confirmed';

-- A retried request (same Idempotency-Key) finds the booking it made.
CREATE UNIQUE INDEX reservations_idempotency_key
    ON reservations (idempotency_key_hash)
    WHERE idempotency_key_hash IS NOT NULL;

-- Rebuilding an office's hot state reads its active future reservations.
CREATE INDEX reservations_office_active
    ON reservations (office_id, slot_start)
    WHERE status IN ('held', 'confirmed');

-- Rebuilding restores the idempotency keys of recent bookings.
CREATE INDEX reservations_office_idempotent
    ON reservations (office_id, created_at)
    WHERE idempotency_key_hash IS NOT NULL;

-- Maintenance: expiring holds, lapsing past bookings, removing names after retention.
CREATE INDEX reservations_held_expiry ON reservations (hold_expires_at) WHERE status = 'held';
CREATE INDEX reservations_confirmed_end ON reservations (slot_end) WHERE status = 'confirmed';
CREATE INDEX reservations_named_end ON reservations (slot_end) WHERE resident_name IS NOT NULL;

-- Every change of a reservation, for the office's records (who did what, when).
CREATE TABLE reservation_events (
    id             bigserial   PRIMARY KEY,
    reservation_id uuid        NOT NULL REFERENCES reservations (id),
    kind           text        NOT NULL,
    actor          text        NOT NULL,
    at             timestamptz NOT NULL,
    detail         jsonb
);
CREATE INDEX reservation_events_reservation ON reservation_events (reservation_id, at);

-- Keys generated on first start when none is configured.
CREATE TABLE app_secrets (
    name       text        PRIMARY KEY,
    value      bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

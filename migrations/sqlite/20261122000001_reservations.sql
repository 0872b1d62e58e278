-- The embedded ledger (SQLite): the same records and guards as the PostgreSQL ledger.
-- Times are Unix milliseconds (UTC); ids are UUID text; hashes are 32-byte blobs.

CREATE TABLE reservations (
    id                   TEXT    NOT NULL PRIMARY KEY,
    reference            TEXT    NOT NULL UNIQUE,
    office_id            TEXT    NOT NULL,
    procedure            TEXT    NOT NULL,
    slot_start           INTEGER NOT NULL,
    slot_end             INTEGER NOT NULL,
    seat                 INTEGER NOT NULL,
    capacity             INTEGER NOT NULL,
    status               TEXT    NOT NULL,
    resident_name        TEXT,
    resident_hash        BLOB,
    proxy                INTEGER NOT NULL DEFAULT 0,
    idempotency_key_hash BLOB,
    request_fingerprint  BLOB,
    hold_expires_at      INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    CONSTRAINT reservations_status_known
        CHECK (status IN ('held', 'confirmed', 'cancelled', 'expired', 'lapsed')),
    CONSTRAINT reservations_seat_within_capacity CHECK (seat >= 0 AND seat < capacity),
    CONSTRAINT reservations_slot_order CHECK (slot_end > slot_start),
    CONSTRAINT reservations_confirmed_has_resident
        CHECK (status <> 'confirmed' OR resident_hash IS NOT NULL),
    CONSTRAINT reservations_held_expires CHECK (status <> 'held' OR hold_expires_at IS NOT NULL)
) STRICT;

-- One active reservation per seat of a slot; with seat < capacity, never overbooked.
CREATE UNIQUE INDEX reservations_active_seat_key
    ON reservations (office_id, procedure, slot_start, seat)
    WHERE status IN ('held', 'confirmed');

CREATE UNIQUE INDEX reservations_active_resident_key
    ON reservations (resident_hash, procedure)
    WHERE status = 'confirmed';

CREATE UNIQUE INDEX reservations_idempotency_key
    ON reservations (idempotency_key_hash)
    WHERE idempotency_key_hash IS NOT NULL;

CREATE INDEX reservations_office_active
    ON reservations (office_id, slot_start)
    WHERE status IN ('held', 'confirmed');

CREATE INDEX reservations_office_idempotent
    ON reservations (office_id, created_at)
    WHERE idempotency_key_hash IS NOT NULL;

CREATE INDEX reservations_held_expiry ON reservations (hold_expires_at) WHERE status = 'held';
CREATE INDEX reservations_confirmed_end ON reservations (slot_end) WHERE status = 'confirmed';
CREATE INDEX reservations_named_end ON reservations (slot_end) WHERE resident_name IS NOT NULL;

CREATE TABLE reservation_events (
    id             INTEGER PRIMARY KEY,
    reservation_id TEXT    NOT NULL REFERENCES reservations (id),
    kind           TEXT    NOT NULL,
    actor          TEXT    NOT NULL,
    at             INTEGER NOT NULL,
    detail         TEXT
) STRICT;
CREATE INDEX reservation_events_reservation ON reservation_events (reservation_id, at);

CREATE TABLE app_secrets (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

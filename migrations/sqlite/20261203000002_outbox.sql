-- See migrations/postgres: where a booking's messages go, and the durable outbox.
ALTER TABLE reservations ADD COLUMN contact_email TEXT;
ALTER TABLE reservations ADD COLUMN contact_lang TEXT;

CREATE TABLE outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    reservation_id TEXT    NOT NULL,
    kind           TEXT    NOT NULL
        CHECK (kind IN ('confirmation', 'reminder', 'changed', 'cancelled')),
    slot_start     INTEGER NOT NULL,
    due_at         INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    sent_at        INTEGER,
    dropped_at     INTEGER,
    created_at     INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE sent_at IS NULL AND dropped_at IS NULL;
CREATE INDEX outbox_reservation ON outbox (reservation_id);

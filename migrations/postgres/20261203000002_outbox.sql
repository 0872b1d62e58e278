-- Where a booking's messages go (removed with the name after the retention period), and
-- the durable outbox of those messages: a row is written in the same statement as the
-- change it announces, so a crash never loses one; the sender marks it sent after the
-- SMTP server accepted it. The message itself is rendered at sending time from the
-- booking, so the outbox holds no personal data.
ALTER TABLE reservations ADD COLUMN contact_email text, ADD COLUMN contact_lang text;

CREATE TABLE outbox (
    id             bigserial   PRIMARY KEY,      -- also the message's Message-ID
    reservation_id uuid        NOT NULL,
    kind           text        NOT NULL,
    slot_start     timestamptz NOT NULL,         -- the slot the message is about
    due_at         timestamptz NOT NULL,         -- when to send (next try, or a lease)
    attempts       integer     NOT NULL DEFAULT 0,
    last_error     text,
    sent_at        timestamptz,
    dropped_at     timestamptz,                  -- not to be sent (reminder of a moved booking)
    created_at     timestamptz NOT NULL,
    CONSTRAINT outbox_kind_known
        CHECK (kind IN ('confirmation', 'reminder', 'changed', 'cancelled'))
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE sent_at IS NULL AND dropped_at IS NULL;
CREATE INDEX outbox_reservation ON outbox (reservation_id);

-- The outbox is read by reservation (moves, cancellations, the admin page, settling a
-- message) and by due time (the sender): keyed by (reservation, id), a message costs the
-- booking's statement two index entries instead of three. The id stays the Message-ID.
ALTER TABLE outbox DROP CONSTRAINT outbox_pkey, ADD PRIMARY KEY (reservation_id, id);
DROP INDEX outbox_reservation;

-- One booking: lock the slot, check, count, insert. :slots is 1 (one hot slot) or 10.
\set slot random(1, :slots)
BEGIN;
SELECT capacity - taken AS free FROM naive_slots WHERE id = :slot FOR UPDATE \gset
\if :free > 0
UPDATE naive_slots SET taken = taken + 1 WHERE id = :slot;
INSERT INTO naive_bookings (slot_id, resident) VALUES (:slot, md5(random()::text));
\endif
COMMIT;

-- The floor of any durable booking: one INSERT and its commit, no contention.
INSERT INTO naive_bookings (slot_id, resident) VALUES (1 + (random() * 99)::int, md5(random()::text));

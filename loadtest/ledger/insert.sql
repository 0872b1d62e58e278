-- Ten bookings in one statement, as the group-commit writer writes them; run.sh puts in
-- the id expression (random UUIDv4 or time-ordered v7).
WITH inserted AS (
  INSERT INTO reservations (id, reference, office_id, procedure, slot_start, slot_end, seat, capacity,
     status, resident_name, resident_hash, proxy, idempotency_key_hash, request_fingerprint, hold_expires_at, created_at, updated_at)
  SELECT __ID__, upper(md5(random()::text)), 'bench', 'cert_renewal',
         s, s + interval '5 minutes',
         (random()*1e9)::int, 1000000000, 'confirmed', '予約 太郎', sha256(random()::text::bytea), false,
         sha256(random()::text::bytea), sha256(random()::text::bytea), NULL, now(), now()
  FROM (SELECT g, timestamptz '2027-01-14 00:00+00' + (g % 95) * interval '5 minutes' + (random()*30)::int * interval '1 day' AS s
        FROM generate_series(1, 10) g) x
  RETURNING id, created_at
)
INSERT INTO reservation_events (reservation_id, kind, actor, at)
SELECT id, 'booked', 'resident', created_at FROM inserted;

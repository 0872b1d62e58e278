-- A booking staff made for a caller (電話予約の代行) has its own "booked" event naming the
-- staff token, with the consent noted; the entry read from the row stands only for the
-- bookings without one (residents' own, which stay one row at the rush).
CREATE OR REPLACE VIEW reservation_trail AS
SELECT r.id AS reservation_id, 'booked'::text AS kind, 'resident'::text AS actor,
       r.created_at AS at, NULL::jsonb AS detail, 0 AS source, 0::bigint AS seq
FROM reservations r
WHERE NOT EXISTS (SELECT 1 FROM reservation_events e
                  WHERE e.reservation_id = r.id AND e.kind IN ('held', 'booked'))
UNION ALL
SELECT reservation_id, kind, actor, at, detail, 1, id FROM reservation_events;

-- A booking staff made for a caller (電話予約の代行) has its own "booked" event naming the
-- staff token, with the consent noted; the entry read from the row stands only for the
-- bookings without one, as in PostgreSQL.
DROP VIEW reservation_trail;
CREATE VIEW reservation_trail AS
SELECT r.id AS reservation_id, 'booked' AS kind, 'resident' AS actor,
       r.created_at AS at, NULL AS detail, 0 AS source, 0 AS seq
FROM reservations r
WHERE NOT EXISTS (SELECT 1 FROM reservation_events e
                  WHERE e.reservation_id = r.id AND e.kind IN ('held', 'booked'))
UNION ALL
SELECT reservation_id, kind, actor, at, detail, 1, id FROM reservation_events;

-- A booking's "booked" entry in the audit trail is read from its row (created_at; the
-- actor is always the resident), as a ticket's "issued" entry is: a booking at the rush
-- writes one row instead of two, 2-3 us of PostgreSQL's ~40 per booking
-- (docs/PERFORMANCE.md, "The booked entry read from the row"). A hold still gets a
-- "held" event, which is how the trail tells the two apart.
DELETE FROM reservation_events WHERE kind = 'booked';

-- The audit trail of reservations: each booking's creation, then its events, in order.
CREATE VIEW reservation_trail AS
SELECT r.id AS reservation_id, 'booked'::text AS kind, 'resident'::text AS actor,
       r.created_at AS at, NULL::jsonb AS detail, 0 AS source, 0::bigint AS seq
FROM reservations r
WHERE NOT EXISTS (SELECT 1 FROM reservation_events e
                  WHERE e.reservation_id = r.id AND e.kind = 'held')
UNION ALL
SELECT reservation_id, kind, actor, at, detail, 1, id FROM reservation_events;

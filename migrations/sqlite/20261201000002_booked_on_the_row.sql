-- A booking's "booked" entry in the audit trail is read from its row (created_at; the
-- actor is always the resident), as in PostgreSQL (see its migration of the same name):
-- a hold still gets a "held" event, which is how the trail tells the two apart.
DELETE FROM reservation_events WHERE kind = 'booked';

-- The audit trail of reservations: each booking's creation, then its events, in order.
CREATE VIEW reservation_trail AS
SELECT r.id AS reservation_id, 'booked' AS kind, 'resident' AS actor,
       r.created_at AS at, NULL AS detail, 0 AS source, 0 AS seq
FROM reservations r
WHERE NOT EXISTS (SELECT 1 FROM reservation_events e
                  WHERE e.reservation_id = r.id AND e.kind = 'held')
UNION ALL
SELECT reservation_id, kind, actor, at, detail, 1, id FROM reservation_events;

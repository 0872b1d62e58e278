-- Who issued a ticket (the kiosk, or staff:<token id> at a check-in) lives on the ticket
-- row: the audit trail reads its "issued" entries from there, so issuing a ticket at the
-- morning rush writes one row instead of two (docs/PERFORMANCE.md).
ALTER TABLE tickets ADD COLUMN issued_by text;
UPDATE tickets t SET issued_by = e.actor
    FROM queue_events e WHERE e.ticket_id = t.id AND e.kind = 'issued';
UPDATE tickets SET issued_by = 'kiosk' WHERE issued_by IS NULL;
ALTER TABLE tickets ALTER COLUMN issued_by SET NOT NULL;
DELETE FROM queue_events WHERE kind = 'issued';

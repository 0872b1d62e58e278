-- Who issued a ticket lives on the ticket row (see the PostgreSQL migration).
ALTER TABLE tickets ADD COLUMN issued_by TEXT NOT NULL DEFAULT 'kiosk';
UPDATE tickets SET issued_by = (
    SELECT e.actor FROM queue_events e WHERE e.ticket_id = tickets.id AND e.kind = 'issued')
WHERE EXISTS (SELECT 1 FROM queue_events e WHERE e.ticket_id = tickets.id AND e.kind = 'issued');
DELETE FROM queue_events WHERE kind = 'issued';

-- The audit tables are append-only and every event row is written from its parent's row
-- (in the same statement for new bookings and tickets), so the foreign keys checked what
-- the writes already guarantee, at the price of a trigger, a lookup and a row lock on the
-- parent per event: about a tenth of PostgreSQL's work per ticket at the morning rush
-- (docs/PERFORMANCE.md). Nothing deletes reservations or tickets. The SQLite ledger keeps
-- its foreign keys (checked cheaply there, and one writer at a time anyway).
ALTER TABLE reservation_events DROP CONSTRAINT reservation_events_reservation_id_fkey;
ALTER TABLE queue_events DROP CONSTRAINT queue_events_ticket_id_fkey;

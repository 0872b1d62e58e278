-- A counter may call a ticket in the moment between its issue in the hot state and the
-- commit of its row; the call's event must be recorded then, not refused (PostgreSQL has
-- no foreign key here either). The row keeps the issue's state until the ticket's next
-- change writes it (a reload keeps the live copy, which has the higher revision).
-- SQLite cannot drop a constraint: the table is rebuilt without it.
CREATE TABLE queue_events_unkeyed (
    id         INTEGER PRIMARY KEY,
    office_id  TEXT    NOT NULL,
    ticket_id  TEXT,
    counter_id TEXT,
    kind       TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    detail     TEXT
) STRICT;
INSERT INTO queue_events_unkeyed (id, office_id, ticket_id, counter_id, kind, actor, at, detail)
    SELECT id, office_id, ticket_id, counter_id, kind, actor, at, detail FROM queue_events;
DROP TABLE queue_events;
ALTER TABLE queue_events_unkeyed RENAME TO queue_events;
CREATE INDEX queue_events_office_at ON queue_events (office_id, at);
CREATE INDEX queue_events_ticket ON queue_events (ticket_id) WHERE ticket_id IS NOT NULL;

-- The naive design most booking apps use, as a baseline for docs/PERFORMANCE.md: one row
-- per slot with a counter, locked for the check (SELECT … FOR UPDATE), then UPDATE and
-- INSERT in the same transaction. Capacity is unlimited here so every transaction books:
-- the most favourable case for the baseline.
DROP TABLE IF EXISTS naive_bookings;
DROP TABLE IF EXISTS naive_slots;
CREATE TABLE naive_slots (id integer PRIMARY KEY, capacity integer NOT NULL, taken integer NOT NULL DEFAULT 0);
CREATE TABLE naive_bookings (
    id         bigserial   PRIMARY KEY,
    slot_id    integer     NOT NULL REFERENCES naive_slots (id),
    resident   text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO naive_slots (id, capacity) SELECT g, 1000000000 FROM generate_series(1, 100) AS g;

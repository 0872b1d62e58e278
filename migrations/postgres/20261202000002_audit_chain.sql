-- The tamper-evident audit trail (service::audit). Configuration changes get an
-- append-only log of their own: waiting_rooms keeps only a room's current definition.
-- One row per office the room covers, so each office's chain holds its changes.
CREATE TABLE room_events (
    id         bigserial   PRIMARY KEY,
    office_id  text        NOT NULL,
    room_id    text        NOT NULL,
    kind       text        NOT NULL,   -- defined, changed, deleted
    actor      text        NOT NULL,   -- staff:<token id>
    at         timestamptz NOT NULL,
    definition text        NOT NULL
);
CREATE INDEX room_events_office_at ON room_events (office_id, at);

-- Staff's changes of bookings, by time, for the seals (residents' own events are not
-- in the chain, and a partial index costs their writes nothing).
CREATE INDEX reservation_events_staff_at ON reservation_events (at)
    WHERE actor LIKE 'staff:%';

-- Seals: each covers an office's audit events of one Tokyo day with `at` in
-- [the previous seal's `through`, `through`), and chains to the previous seal by a keyed
-- hash (the key is not in the database), so a deleted, edited or inserted event, or a
-- deleted seal, is detected by `madoguchi audit verify`.
CREATE TABLE audit_seals (
    office_id text        NOT NULL,
    day       date        NOT NULL,
    seq       integer     NOT NULL,
    through   timestamptz NOT NULL,
    events    integer     NOT NULL,
    hash      bytea       NOT NULL,
    sealed_at timestamptz NOT NULL,
    PRIMARY KEY (office_id, day, seq)
);

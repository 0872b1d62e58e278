-- The tamper-evident audit trail (see the PostgreSQL migration).
CREATE TABLE room_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    office_id  TEXT    NOT NULL,
    room_id    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    definition TEXT    NOT NULL
) STRICT;
CREATE INDEX room_events_office_at ON room_events (office_id, at);

CREATE INDEX reservation_events_staff_at ON reservation_events (at)
    WHERE actor LIKE 'staff:%';

CREATE TABLE audit_seals (
    office_id TEXT    NOT NULL,
    day       TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    through   INTEGER NOT NULL,
    events    INTEGER NOT NULL,
    hash      BLOB    NOT NULL,
    sealed_at INTEGER NOT NULL,
    PRIMARY KEY (office_id, day, seq)
) STRICT;

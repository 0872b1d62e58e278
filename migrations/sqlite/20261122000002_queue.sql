-- Walk-in tickets, counter operations, staff tokens and congestion history (SQLite).
-- Times are Unix milliseconds; dates are YYYY-MM-DD text.

CREATE TABLE tickets (
    id             TEXT    NOT NULL PRIMARY KEY,
    office_id      TEXT    NOT NULL,
    line_id        TEXT    NOT NULL,
    service_date   TEXT    NOT NULL,
    number         INTEGER NOT NULL,
    display        TEXT    NOT NULL,
    procedure      TEXT    NOT NULL,
    class          TEXT    NOT NULL,
    reservation_id TEXT    REFERENCES reservations (id),
    status         TEXT    NOT NULL,
    counter_id     TEXT,
    order_key      INTEGER NOT NULL,
    issued_at      INTEGER NOT NULL,
    called_at      INTEGER,
    started_at     INTEGER,
    finished_at    INTEGER,
    recalls        INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT tickets_class_known CHECK (class IN ('reserved', 'priority', 'normal')),
    CONSTRAINT tickets_status_known
        CHECK (status IN ('waiting', 'called', 'serving', 'done', 'no_show', 'cancelled')),
    CONSTRAINT tickets_number_positive CHECK (number > 0)
) STRICT;

-- Unique per office, day and displayed number (the prefix names the issuing line).
CREATE UNIQUE INDEX tickets_number_key ON tickets (office_id, service_date, display);
CREATE UNIQUE INDEX tickets_reservation_key ON tickets (reservation_id) WHERE reservation_id IS NOT NULL;
CREATE INDEX tickets_office_day ON tickets (office_id, service_date);
CREATE INDEX tickets_finished ON tickets (office_id, finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE queue_events (
    id         INTEGER PRIMARY KEY,
    office_id  TEXT    NOT NULL,
    ticket_id  TEXT    REFERENCES tickets (id),
    counter_id TEXT,
    kind       TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    detail     TEXT
) STRICT;
CREATE INDEX queue_events_office_at ON queue_events (office_id, at);
CREATE INDEX queue_events_ticket ON queue_events (ticket_id) WHERE ticket_id IS NOT NULL;

CREATE TABLE counter_states (
    office_id  TEXT    NOT NULL,
    counter_id TEXT    NOT NULL,
    paused     INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (office_id, counter_id)
) STRICT;

CREATE TABLE staff_tokens (
    id         TEXT    NOT NULL PRIMARY KEY,
    office_id  TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    token_hash BLOB    NOT NULL UNIQUE,
    label      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    CONSTRAINT staff_tokens_role_known CHECK (role IN ('staff', 'admin'))
) STRICT;

CREATE TABLE congestion_snapshots (
    id            INTEGER PRIMARY KEY,
    office_id     TEXT    NOT NULL,
    line_id       TEXT    NOT NULL,
    taken_at      INTEGER NOT NULL,
    waiting       INTEGER NOT NULL,
    counters_open INTEGER NOT NULL,
    wait_p50      INTEGER,
    wait_p90      INTEGER,
    level         TEXT    NOT NULL
) STRICT;
CREATE INDEX congestion_snapshots_office_at ON congestion_snapshots (office_id, taken_at);
CREATE INDEX congestion_snapshots_at ON congestion_snapshots (taken_at);

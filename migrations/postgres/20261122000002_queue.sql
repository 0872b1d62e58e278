-- Walk-in tickets, counter operations, staff tokens and congestion history.

CREATE TABLE tickets (
    id             uuid        PRIMARY KEY,             -- unguessable; the number reveals nothing
    office_id      text        NOT NULL,
    line_id        text        NOT NULL,
    service_date   date        NOT NULL,                -- Tokyo date of issue
    number         integer     NOT NULL,                -- per office, line and day
    display        text        NOT NULL,                -- e.g. A-012
    procedure      text        NOT NULL,
    class          text        NOT NULL,
    reservation_id uuid        REFERENCES reservations (id),
    status         text        NOT NULL,
    counter_id     text,
    order_key      bigint      NOT NULL,                -- place in its line (see docs/QUEUE.md)
    issued_at      timestamptz NOT NULL,
    called_at      timestamptz,
    started_at     timestamptz,
    finished_at    timestamptz,
    recalls        integer     NOT NULL DEFAULT 0,
    CONSTRAINT tickets_class_known CHECK (class IN ('reserved', 'priority', 'normal')),
    CONSTRAINT tickets_status_known
        CHECK (status IN ('waiting', 'called', 'serving', 'done', 'no_show', 'cancelled')),
    CONSTRAINT tickets_number_positive CHECK (number > 0)
);

-- Never the same number twice for an office, line and day. The displayed number carries
-- the prefix of the line that issued it (prefixes are unique within an office), and a
-- transferred ticket keeps its number while line_id follows it.
CREATE UNIQUE INDEX tickets_number_key ON tickets (office_id, service_date, display);
-- A reservation checks in once.
CREATE UNIQUE INDEX tickets_reservation_key ON tickets (reservation_id) WHERE reservation_id IS NOT NULL;
CREATE INDEX tickets_office_day ON tickets (office_id, service_date);
CREATE INDEX tickets_finished ON tickets (office_id, finished_at) WHERE finished_at IS NOT NULL;

-- Every counter action and ticket change: who, what, when.
CREATE TABLE queue_events (
    id         bigserial   PRIMARY KEY,
    office_id  text        NOT NULL,
    ticket_id  uuid        REFERENCES tickets (id),
    counter_id text,
    kind       text        NOT NULL,
    actor      text        NOT NULL,
    at         timestamptz NOT NULL,
    detail     jsonb
);
CREATE INDEX queue_events_office_at ON queue_events (office_id, at);
CREATE INDEX queue_events_ticket ON queue_events (ticket_id) WHERE ticket_id IS NOT NULL;

CREATE TABLE counter_states (
    office_id  text        NOT NULL,
    counter_id text        NOT NULL,
    paused     boolean     NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (office_id, counter_id)
);

-- Staff bearer tokens, stored as hashes only.
CREATE TABLE staff_tokens (
    id         uuid        PRIMARY KEY,
    office_id  text        NOT NULL,
    role       text        NOT NULL,
    token_hash bytea       NOT NULL UNIQUE,
    label      text        NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT staff_tokens_role_known CHECK (role IN ('staff', 'admin'))
);

-- Congestion every few minutes, for typical congestion and open data.
CREATE TABLE congestion_snapshots (
    id            bigserial   PRIMARY KEY,
    office_id     text        NOT NULL,
    line_id       text        NOT NULL,
    taken_at      timestamptz NOT NULL,
    waiting       integer     NOT NULL,
    counters_open integer     NOT NULL,
    wait_p50      integer,
    wait_p90      integer,
    level         text        NOT NULL
);
CREATE INDEX congestion_snapshots_office_at ON congestion_snapshots (office_id, taken_at);
CREATE INDEX congestion_snapshots_at ON congestion_snapshots (taken_at);

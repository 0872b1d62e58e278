-- Waiting rooms defined through the admin API (see the PostgreSQL migration).
CREATE TABLE waiting_rooms (
    id         TEXT    NOT NULL PRIMARY KEY,
    definition TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
) STRICT;

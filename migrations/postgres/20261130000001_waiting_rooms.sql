-- Waiting rooms defined through the admin API (rooms of the municipality file are not
-- stored). The definition is the same JSON as a file entry; every instance reloads the
-- table and validates it against its municipality. A deleted room keeps its row
-- (deleted_at) so that its id, which keys the line's hot state, is never reused.
CREATE TABLE waiting_rooms (
    id         text        PRIMARY KEY,
    definition text        NOT NULL,
    created_by text        NOT NULL,   -- staff:<token id>, never the token
    created_at timestamptz NOT NULL,
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz
);

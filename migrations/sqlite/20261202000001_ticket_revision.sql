-- A ticket's revision (see the PostgreSQL migration).
ALTER TABLE tickets ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

-- A ticket's revision: how many changes it went through after its issue. The hot state
-- raises it with every change and the ledger keeps the revision of the state it holds,
-- so a queue reload can tell a live change the ledger has not caught up with from a hot
-- state that is behind (domain::queue::ledger_copy_wins), and a late write of an older
-- state leaves a newer row alone. A constant default: no table rewrite.
ALTER TABLE tickets ADD COLUMN revision integer NOT NULL DEFAULT 0;

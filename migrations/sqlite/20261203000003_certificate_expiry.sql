-- See migrations/postgres: a renewal's certificate expiry, `YYYY-MM-DD`.
ALTER TABLE reservations ADD COLUMN certificate_expiry TEXT;

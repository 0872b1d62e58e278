-- A renewal's certificate expiry, kept with the booking so that a move checks the new
-- day against it without asking again (removed with the name after the retention period).
ALTER TABLE reservations ADD COLUMN certificate_expiry date;

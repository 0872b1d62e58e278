-- Keyed hashes (16 bytes each) of the contact and birth date a resident gave, so that the
-- reference and one of them open the booking when the secret is lost. Never the values.
ALTER TABLE reservations ADD COLUMN resident_proofs BLOB;

-- One pending payment per dossier, enforced by the database: two payment requests arriving
-- together once both passed the service's check and each stored a payable reference, so a
-- citizen could pay twice. A database that already holds two pending payments for one dossier
-- (possible before this migration) stops here with a unique violation naming this index:
-- settle or expire one of them first. Kept in lockstep with ../sqlite/0011_one_pending_payment_per_dossier.sql.
CREATE UNIQUE INDEX payments_one_pending_per_dossier ON payments (dossier_id) WHERE state = 'pending';

-- Each piece of evidence written once (issue 23). A dossier's raw submission was kept twice
-- (dossier_submissions and the message log) and so was the answer it got (dossiers.first_answer
-- and the log); the log's chain makes its copy the tamper-evident one. From this migration on a new
-- dossier names its request's record in the log (submission_seq; its answer is the record
-- after it), first_answer is left empty, and no dossier_submissions row is written. The log
-- keeps those two records past its retention (message_log_kept, never removed), as it keeps
-- payment evidence. Dossiers received before keep their rows as they are: dossier_submissions
-- stays, read by nobody but an auditor, and first_answer is read where it is not empty.
-- Kept in lockstep with ../postgres/0019_submission_in_the_log.sql.
ALTER TABLE dossiers ADD COLUMN submission_seq BIGINT;

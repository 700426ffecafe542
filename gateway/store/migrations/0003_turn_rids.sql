-- Sequence numbers are allocated by the database as each turn is written (MAX(seq) + 1 of the
-- session), so a resumed session continues its numbering; rec_id (one per journal record) keeps a
-- replayed record from being written twice. Rows written before this get session_id:seq.
ALTER TABLE turns ADD COLUMN rec_id TEXT;
UPDATE turns SET rec_id = session_id || ':' || seq;
CREATE UNIQUE INDEX IF NOT EXISTS turns_rec ON turns(rec_id);

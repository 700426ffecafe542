-- Deleting a caller's data (a keyed hash of the number, never the number), retention by age,
-- idempotent error rows (a replayed journal must not duplicate them) and the audit trail.
ALTER TABLE sessions ADD COLUMN caller_hash TEXT;
CREATE INDEX IF NOT EXISTS sessions_caller ON sessions(caller_hash);
CREATE INDEX IF NOT EXISTS sessions_tenant_started ON sessions(tenant, started_at);
CREATE UNIQUE INDEX IF NOT EXISTS errors_once ON errors(session_id, at, code);
CREATE TABLE IF NOT EXISTS audit (
    at DOUBLE PRECISION NOT NULL, subject TEXT NOT NULL, role TEXT NOT NULL, tenant TEXT NOT NULL,
    action TEXT NOT NULL, session_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_session ON audit(session_id);

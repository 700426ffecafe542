-- The transcript schema of gateway/store/transcripts.py (SCHEMA_VERSION 1), in SQL that SQLite and
-- PostgreSQL both accept. IF NOT EXISTS: an SQLite file the TranscriptStore created adopts it as is.
-- DOUBLE PRECISION (not REAL): PostgreSQL's REAL is 4 bytes, too coarse for epoch seconds.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, channel TEXT NOT NULL, language TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL, ended_at DOUBLE PRECISION, end_reason TEXT);
CREATE TABLE IF NOT EXISTS turns (
    session_id TEXT NOT NULL REFERENCES sessions(id), seq INTEGER NOT NULL, turn_id INTEGER NOT NULL,
    speaker TEXT NOT NULL, modality TEXT NOT NULL, text TEXT NOT NULL, language TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, timings TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (session_id, seq));
CREATE TABLE IF NOT EXISTS errors (
    session_id TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL, at DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS errors_session ON errors(session_id);

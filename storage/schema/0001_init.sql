-- MedSight database, version 1: the job queue, the change-event inbox and pending series.
-- Applied once by storage/store.c inside a transaction that also sets PRAGMA user_version = 1.
-- Times are unix seconds (REAL, with fractions); 0 means "not yet".

CREATE TABLE jobs (
	id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused, REST links stay valid
	analysis TEXT NOT NULL,
	priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),  -- ms_priority
	state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 4),  -- ms_job_state
	series_id TEXT NOT NULL,
	triggered_by TEXT NOT NULL,            -- "trigger" is an SQL keyword
	params TEXT,
	progress REAL NOT NULL DEFAULT 0,
	attempts INTEGER NOT NULL DEFAULT 0,
	cancel_requested INTEGER NOT NULL DEFAULT 0,
	error TEXT,
	result TEXT,
	created REAL NOT NULL,
	started REAL NOT NULL DEFAULT 0,
	finished REAL NOT NULL DEFAULT 0
);

-- Claim reads the first row of this index where state = 0 (queued).
CREATE INDEX jobs_claim ON jobs (state, priority DESC, id);
-- Enqueue looks for a queued duplicate; listing by series. Not UNIQUE: recovery and retry may
-- legitimately queue a second run of the same (series, analysis) and results replace each other.
CREATE INDEX jobs_series ON jobs (series_id, analysis, state);

-- Orthanc change events, written by the change callback and consumed by the worker.
CREATE TABLE events (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	kind INTEGER NOT NULL,
	resource_id TEXT NOT NULL,
	created REAL NOT NULL
);

-- Series seen (NEW_SERIES) but not yet stable, so a lost StableSeries event is recovered.
CREATE TABLE pending_series (
	series_id TEXT PRIMARY KEY,
	first_seen REAL NOT NULL,
	last_seen REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX pending_series_last_seen ON pending_series (last_seen);

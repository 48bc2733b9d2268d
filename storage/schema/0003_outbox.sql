-- MedSight database: the forwarding outbox (STOW-RS of results to MedSight.Forward servers).
-- One row per (job, Orthanc instance, destination). Rows survive restarts: a row left "sending"
-- by a stop or crash goes back to pending at the next start (ms_outbox_recover).
-- Times are unix seconds (REAL, with fractions); 0 means "not yet".

CREATE TABLE outbox (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	-- The job whose result this is; 0 for an administrator's re-send (POST /medsight/forward).
	-- No foreign key: a result already stored is worth delivering even if its job row goes.
	job_id INTEGER NOT NULL,
	instance_id TEXT NOT NULL,             -- Orthanc instance id
	destination TEXT NOT NULL,             -- MedSight.Forward[].Name
	state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 3),  -- ms_outbox_state
	attempts INTEGER NOT NULL DEFAULT 0,   -- sends started (claims)
	-- Bumped when the row is queued again, so that the outcome of a send that was already under
	-- way cannot overwrite the newer request.
	generation INTEGER NOT NULL DEFAULT 0,
	next_attempt_at REAL NOT NULL,         -- a pending row is due from this time on
	last_error TEXT,
	created REAL NOT NULL,
	updated REAL NOT NULL,
	finished REAL NOT NULL DEFAULT 0,
	UNIQUE (job_id, instance_id, destination)
);

-- Claim reads the first due pending row of this index.
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

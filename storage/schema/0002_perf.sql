-- MedSight database, version 2: performance records, one row per (job run, stage).
-- Written by storage/perf.c when a job ends (done or failed), all stages of a run in one
-- transaction; rows older than MedSight.PerfRetentionDays are deleted by ms_perf_prune.
-- Times are unix seconds (REAL, with fractions), durations milliseconds.

CREATE TABLE perf (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	job_id INTEGER NOT NULL,     -- jobs.id; no foreign key: records are kept (and pruned) on their own
	analysis TEXT NOT NULL,
	priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),  -- ms_priority
	outcome INTEGER NOT NULL,    -- ms_job_state the run ended in (done, failed, cancelled)
	stage TEXT NOT NULL,         -- queue_wait, decode, upload, gpu, readback, encode, store, forward, ...
	ms REAL NOT NULL CHECK (ms >= 0),
	voxels INTEGER NOT NULL DEFAULT 0,
	bytes INTEGER NOT NULL DEFAULT 0,
	device TEXT,                 -- Vulkan device name
	version TEXT,                -- MedSight / algorithm version
	started_at REAL NOT NULL     -- when the stage started
);

-- Retention deletes by time; the list reads newest rows first.
CREATE INDEX perf_started ON perf (started_at);
-- Summaries read one (analysis, stage) group at a time, values sorted.
CREATE INDEX perf_group ON perf (analysis, stage, ms);

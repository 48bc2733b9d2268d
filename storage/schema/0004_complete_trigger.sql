-- MedSight database, version 4: series whose rules already ran when Orthanc reported them
-- complete (all announced instances present), before they became stable. A later StableSeries
-- with no instance seen since then does not run the rules a second time.
-- Times are unix seconds (REAL, with fractions); 0 means "not yet".

ALTER TABLE pending_series ADD COLUMN triggered_at REAL NOT NULL DEFAULT 0;

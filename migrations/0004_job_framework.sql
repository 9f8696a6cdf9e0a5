-- The job framework: any kind of job records metric series (a training curve, a delay curve), keeps
-- artifacts in the blob store (a quantized checkpoint, a CSV), saves a resume point, and shows a heartbeat.

ALTER TABLE jobs ADD COLUMN saved_state TEXT;
ALTER TABLE jobs ADD COLUMN heartbeat_at INTEGER;

CREATE TABLE job_metrics (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    step   INTEGER NOT NULL,
    name   TEXT NOT NULL,
    value  REAL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE job_artifacts (
    job_id     TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, name)
);
CREATE INDEX job_artifacts_by_sha256 ON job_artifacts(sha256);

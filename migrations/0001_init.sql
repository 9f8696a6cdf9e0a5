-- The server's catalogue: uploaded checkpoints and their tensors, jobs and their results, experiments.
-- Times are Unix seconds. JSON columns hold the CLI/API vocabulary as text.

CREATE TABLE checkpoints (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    sha256       TEXT NOT NULL UNIQUE,
    format       TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    tensor_count INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE tensors (
    checkpoint_id TEXT NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,
    name          TEXT NOT NULL,
    dtype         TEXT NOT NULL,
    shape         TEXT NOT NULL,
    numel         INTEGER NOT NULL,
    min           REAL,
    max           REAL,
    mean          REAL,
    std           REAL,
    sparsity      REAL,
    PRIMARY KEY (checkpoint_id, idx)
);

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    progress    REAL NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0,
    done        INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER
);
CREATE INDEX jobs_state ON jobs(state, created_at);

CREATE TABLE job_results (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE experiments (
    id            TEXT PRIMARY KEY,
    share_id      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    notes         TEXT NOT NULL DEFAULT '',
    kind          TEXT NOT NULL,
    job_id        TEXT,
    checkpoint_id TEXT,
    config        TEXT NOT NULL,
    results       TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Uploaded video annotation files (ground truth, detections, a tracker's output): the text lives in the
-- blob store under its hash; the row says what it was checked as and what it holds.

CREATE TABLE video_files (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('gt', 'det', 'tracks')),
    sha256      TEXT NOT NULL,
    size_bytes  INTEGER NOT NULL,
    boxes       INTEGER NOT NULL,
    first_frame INTEGER NOT NULL,
    last_frame  INTEGER NOT NULL,
    objects     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX video_files_by_sha256 ON video_files(sha256);

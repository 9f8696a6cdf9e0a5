-- Sharded checkpoints (model-00001-of-0000N.safetensors …) uploaded as several files: the first file is the
-- checkpoint's own blob (checkpoints.sha256, shard 0); each further file is a row here, and every tensor
-- says which file holds it.

CREATE TABLE shards (
    checkpoint_id TEXT NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    name          TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (checkpoint_id, seq),
    UNIQUE (checkpoint_id, sha256)
);

CREATE INDEX shards_by_sha256 ON shards(sha256);

ALTER TABLE tensors ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;

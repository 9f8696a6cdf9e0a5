//! Checkpoints, their tensors (with statistics) and the further shards of sharded checkpoints.

use super::{Store, StoreResult, Window};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckpointRow {
    pub id: String,
    pub name: String,
    pub sha256: String,
    pub format: String,
    pub size_bytes: i64,
    pub tensor_count: i64,
    pub created_at: i64,
}

impl CheckpointRow {
    pub fn api(&self) -> lowbit_api::Checkpoint {
        lowbit_api::Checkpoint {
            id: self.id.clone(),
            name: self.name.clone(),
            sha256: self.sha256.clone(),
            format: self.format.clone(),
            size_bytes: self.size_bytes,
            tensor_count: self.tensor_count,
            created_at: self.created_at,
            deduplicated: false,
            shards: None,
        }
    }
}

/// One tensor's catalogue row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TensorRow {
    pub idx: i64,
    pub name: String,
    pub dtype: String,
    pub shape: String,
    pub numel: i64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub sparsity: Option<f64>,
    /// Which file of the checkpoint holds it (0: the checkpoint's own blob, then its shards).
    pub shard: i64,
}

impl TensorRow {
    pub fn api(&self) -> lowbit_api::Tensor {
        lowbit_api::Tensor {
            index: self.idx,
            name: self.name.clone(),
            dtype: self.dtype.clone(),
            shape: self.shape(),
            numel: self.numel,
            min: self.min,
            max: self.max,
            mean: self.mean,
            std: self.std,
            sparsity: self.sparsity,
            shard: self.shard,
        }
    }
    pub fn shape(&self) -> Vec<usize> {
        serde_json::from_str(&self.shape).unwrap_or_default()
    }
}

/// A further file of a sharded checkpoint.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShardRow {
    pub seq: i64,
    pub name: String,
    pub sha256: String,
    pub size_bytes: i64,
}

/// A tensor to catalogue: name, dtype, shape and statistics (non-finite statistics are stored as NULL).
pub struct NewTensor<'a> {
    pub name: &'a str,
    pub dtype: &'a str,
    pub shape: &'a [usize],
    pub stats: &'a lowbit_core::stats::TensorStats,
}

/// What [`Store::insert_checkpoint`] did.
pub enum Inserted {
    Created(CheckpointRow),
    /// The same content was already catalogued (possibly by a concurrent upload): that row.
    Existing(CheckpointRow),
}

async fn insert_tensors(
    tx: &mut sqlx::SqliteConnection,
    id: &str,
    shard: i64,
    first_idx: i64,
    rows: &[NewTensor<'_>],
) -> StoreResult<()> {
    let fin = |v: f64| v.is_finite().then_some(v);
    for (i, t) in rows.iter().enumerate() {
        sqlx::query("INSERT INTO tensors (checkpoint_id, idx, name, dtype, shape, numel, min, max, mean, std, sparsity, shard) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")
            .bind(id)
            .bind(first_idx + i as i64)
            .bind(t.name)
            .bind(t.dtype)
            .bind(serde_json::to_string(t.shape).expect("a shape serializes"))
            .bind(t.stats.numel as i64)
            .bind(fin(t.stats.min))
            .bind(fin(t.stats.max))
            .bind(fin(t.stats.mean))
            .bind(fin(t.stats.std))
            .bind(fin(t.stats.sparsity))
            .bind(shard)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

impl Store {
    pub async fn checkpoint(&self, id: &str) -> StoreResult<Option<CheckpointRow>> {
        Ok(sqlx::query_as("SELECT * FROM checkpoints WHERE id = ?1").bind(id).fetch_optional(&self.db).await?)
    }

    pub async fn checkpoint_by_sha(&self, sha: &str) -> StoreResult<Option<CheckpointRow>> {
        Ok(sqlx::query_as("SELECT * FROM checkpoints WHERE sha256 = ?1").bind(sha).fetch_optional(&self.db).await?)
    }

    /// Newest first.
    pub async fn checkpoints(&self, w: Window) -> StoreResult<Vec<CheckpointRow>> {
        Ok(sqlx::query_as("SELECT * FROM checkpoints ORDER BY created_at DESC, id LIMIT ?1 OFFSET ?2")
            .bind(w.limit)
            .bind(w.offset)
            .fetch_all(&self.db)
            .await?)
    }

    /// Catalogues a new checkpoint and its tensors in one transaction; a checkpoint with the same content
    /// wins over this one (uploads are deduplicated by hash).
    pub async fn insert_checkpoint(&self, row: &CheckpointRow, tensors: &[NewTensor<'_>]) -> StoreResult<Inserted> {
        let mut tx = self.db.begin().await?;
        let inserted = sqlx::query("INSERT INTO checkpoints (id, name, sha256, format, size_bytes, tensor_count, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(sha256) DO NOTHING")
            .bind(&row.id)
            .bind(&row.name)
            .bind(&row.sha256)
            .bind(&row.format)
            .bind(row.size_bytes)
            .bind(row.tensor_count)
            .bind(row.created_at)
            .execute(&mut *tx)
            .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            let existing = sqlx::query_as("SELECT * FROM checkpoints WHERE sha256 = ?1")
                .bind(&row.sha256)
                .fetch_one(&self.db)
                .await?;
            return Ok(Inserted::Existing(existing));
        }
        insert_tensors(&mut tx, &row.id, 0, 0, tensors).await?;
        tx.commit().await?;
        Ok(Inserted::Created(row.clone()))
    }

    pub async fn shards(&self, id: &str) -> StoreResult<Vec<ShardRow>> {
        Ok(sqlx::query_as("SELECT seq, name, sha256, size_bytes FROM shards WHERE checkpoint_id = ?1 ORDER BY seq")
            .bind(id)
            .fetch_all(&self.db)
            .await?)
    }

    /// Adds a file to a sharded checkpoint with its tensors (numbered after the existing ones); its number.
    pub async fn add_shard(
        &self,
        id: &str,
        name: &str,
        sha: &str,
        size: i64,
        tensors: &[NewTensor<'_>],
    ) -> StoreResult<i64> {
        let mut tx = self.db.begin().await?;
        let (seq,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) + 1 FROM shards WHERE checkpoint_id = ?1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let (first,): (i64,) =
            sqlx::query_as("SELECT COALESCE(MAX(idx), -1) + 1 FROM tensors WHERE checkpoint_id = ?1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO shards (checkpoint_id, seq, name, sha256, size_bytes, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(id)
        .bind(seq)
        .bind(name)
        .bind(sha)
        .bind(size)
        .bind(crate::util::now())
        .execute(&mut *tx)
        .await?;
        insert_tensors(&mut tx, id, seq, first, tensors).await?;
        sqlx::query(
            "UPDATE checkpoints SET tensor_count = tensor_count + ?1, size_bytes = size_bytes + ?2 WHERE id = ?3",
        )
        .bind(tensors.len() as i64)
        .bind(size)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(seq)
    }

    pub async fn tensors(&self, id: &str) -> StoreResult<Vec<TensorRow>> {
        Ok(sqlx::query_as("SELECT idx, name, dtype, shape, numel, min, max, mean, std, sparsity, shard FROM tensors WHERE checkpoint_id = ?1 ORDER BY idx")
            .bind(id)
            .fetch_all(&self.db)
            .await?)
    }

    /// Deletes a checkpoint (its tensors and shards go with it) and returns the hashes of its files that
    /// nothing refers to any more, which the caller may remove from the blob store.
    pub async fn delete_checkpoint(&self, c: &CheckpointRow) -> StoreResult<Vec<String>> {
        let mut shas: Vec<String> = self.shards(&c.id).await?.into_iter().map(|s| s.sha256).collect();
        shas.push(c.sha256.clone());
        sqlx::query("DELETE FROM checkpoints WHERE id = ?1").bind(&c.id).execute(&self.db).await?;
        self.orphans(shas).await
    }
}

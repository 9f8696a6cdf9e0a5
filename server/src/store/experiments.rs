//! Experiments: a finished job's results or one analysis, kept with a name, notes and a share link.

use super::{Store, StoreResult, Window};
use serde_json::Value;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExperimentRow {
    pub id: String,
    pub share_id: String,
    pub name: String,
    pub notes: String,
    pub kind: String,
    pub job_id: Option<String>,
    pub checkpoint_id: Option<String>,
    pub config: String,
    /// `[]` in listings (not loaded).
    pub results: String,
    pub created_at: i64,
    /// Counted by the database for listings.
    #[sqlx(default)]
    pub result_count: Option<i64>,
}

impl ExperimentRow {
    pub fn results(&self) -> Vec<Value> {
        serde_json::from_str(&self.results).unwrap_or_default()
    }
    /// As the API sends it (`with_results` adds the rows).
    pub fn api(&self, with_results: bool) -> lowbit_api::Experiment {
        let results = if with_results || self.result_count.is_none() { self.results() } else { Vec::new() };
        lowbit_api::Experiment {
            id: Some(self.id.clone()),
            share_id: self.share_id.clone(),
            name: self.name.clone(),
            notes: self.notes.clone(),
            kind: self.kind.clone(),
            job: self.job_id.clone(),
            checkpoint: self.checkpoint_id.clone(),
            config: serde_json::from_str(&self.config).unwrap_or(Value::Null),
            result_count: self.result_count.map_or(results.len(), |n| n as usize),
            created_at: self.created_at,
            share_url: format!("/e/{}", self.share_id),
            results: with_results.then_some(results),
        }
    }
    /// The public view: no internal ids.
    pub fn shared(&self) -> lowbit_api::Experiment {
        lowbit_api::Experiment { id: None, job: None, checkpoint: None, ..self.api(true) }
    }
}

pub struct NewExperiment<'a> {
    pub name: &'a str,
    pub notes: &'a str,
    pub kind: &'a str,
    pub job_id: Option<&'a str>,
    pub checkpoint_id: Option<&'a str>,
    pub config: &'a Value,
    pub results: &'a [Value],
}

/// A listing's filter: substring of name or notes, kind, checkpoint.
#[derive(Debug, Default)]
pub struct ExperimentFilter {
    pub text: Option<String>,
    pub kind: Option<String>,
    pub checkpoint: Option<String>,
}

impl Store {
    /// Keeps an experiment; its id and share id.
    pub async fn insert_experiment(&self, e: &NewExperiment<'_>) -> StoreResult<(String, String)> {
        let (id, share_id) = (crate::util::random_id(), crate::util::random_id());
        sqlx::query("INSERT INTO experiments (id, share_id, name, notes, kind, job_id, checkpoint_id, config, results, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
            .bind(&id)
            .bind(&share_id)
            .bind(e.name)
            .bind(e.notes)
            .bind(e.kind)
            .bind(e.job_id)
            .bind(e.checkpoint_id)
            .bind(e.config.to_string())
            .bind(Value::Array(e.results.to_vec()).to_string())
            .bind(crate::util::now())
            .execute(&self.db)
            .await?;
        Ok((id, share_id))
    }

    pub async fn experiment(&self, id: &str) -> StoreResult<Option<ExperimentRow>> {
        Ok(sqlx::query_as("SELECT * FROM experiments WHERE id = ?1").bind(id).fetch_optional(&self.db).await?)
    }

    pub async fn shared_experiment(&self, share: &str) -> StoreResult<Option<ExperimentRow>> {
        Ok(sqlx::query_as("SELECT * FROM experiments WHERE share_id = ?1").bind(share).fetch_optional(&self.db).await?)
    }

    /// Newest first; results are counted by the database, not loaded.
    pub async fn experiments(&self, f: &ExperimentFilter, w: Window) -> StoreResult<Vec<ExperimentRow>> {
        let text = f.text.as_deref().unwrap_or_default();
        let pattern = format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        Ok(sqlx::query_as(
            "SELECT id, share_id, name, notes, kind, job_id, checkpoint_id, config, '[]' AS results, created_at, json_array_length(results) AS result_count FROM experiments WHERE (name LIKE ?1 ESCAPE '\\' OR notes LIKE ?1 ESCAPE '\\') AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR checkpoint_id = ?3) ORDER BY created_at DESC, id LIMIT ?4 OFFSET ?5",
        )
        .bind(pattern)
        .bind(&f.kind)
        .bind(&f.checkpoint)
        .bind(w.limit)
        .bind(w.offset)
        .fetch_all(&self.db)
        .await?)
    }
}

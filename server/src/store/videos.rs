//! Uploaded video annotation files.

use super::{Store, StoreResult, Window};
use lowbit_api::{VideoFile, VideoRole};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VideoFileRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub boxes: i64,
    pub first_frame: i64,
    pub last_frame: i64,
    pub objects: i64,
    pub created_at: i64,
}

impl VideoFileRow {
    pub fn role(&self) -> VideoRole {
        // The column's CHECK constraint admits only these words.
        VideoRole::try_from(self.role.clone()).unwrap_or(VideoRole::Gt)
    }
    pub fn api(&self) -> VideoFile {
        VideoFile {
            id: self.id.clone(),
            name: self.name.clone(),
            role: self.role(),
            sha256: self.sha256.clone(),
            size_bytes: self.size_bytes,
            boxes: self.boxes,
            first_frame: self.first_frame,
            last_frame: self.last_frame,
            objects: self.objects,
            created_at: self.created_at,
        }
    }
}

impl Store {
    pub async fn insert_video_file(&self, r: &VideoFileRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO video_files (id, name, role, sha256, size_bytes, boxes, first_frame, last_frame, objects, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
            .bind(&r.id)
            .bind(&r.name)
            .bind(&r.role)
            .bind(&r.sha256)
            .bind(r.size_bytes)
            .bind(r.boxes)
            .bind(r.first_frame)
            .bind(r.last_frame)
            .bind(r.objects)
            .bind(r.created_at)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    pub async fn video_file(&self, id: &str) -> StoreResult<Option<VideoFileRow>> {
        Ok(sqlx::query_as("SELECT * FROM video_files WHERE id = ?1").bind(id).fetch_optional(&self.db).await?)
    }

    /// Newest first.
    pub async fn video_files(&self, w: Window) -> StoreResult<Vec<VideoFileRow>> {
        Ok(sqlx::query_as("SELECT * FROM video_files ORDER BY created_at DESC, id LIMIT ?1 OFFSET ?2")
            .bind(w.limit)
            .bind(w.offset)
            .fetch_all(&self.db)
            .await?)
    }

    /// Deletes a video file's row; returns its hash when nothing else refers to that blob any more.
    pub async fn delete_video_file(&self, v: &VideoFileRow) -> StoreResult<Vec<String>> {
        sqlx::query("DELETE FROM video_files WHERE id = ?1").bind(&v.id).execute(&self.db).await?;
        self.orphans(vec![v.sha256.clone()]).await
    }
}

//! Waiting rooms defined through the admin API, on PostgreSQL.

use crate::store::StoreError;
use crate::store::postgres::PgLedger;
use crate::store::room::{RoomLedger, StoredRoom};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl RoomLedger for PgLedger {
    async fn stored_rooms(&self) -> Result<Vec<StoredRoom>, StoreError> {
        sqlx::query_as!(
            StoredRoom,
            "SELECT * FROM waiting_rooms ORDER BY created_at, id"
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))
    }

    async fn put_room(&self, r: &StoredRoom) -> Result<(), StoreError> {
        sqlx::query!(
            r#"INSERT INTO waiting_rooms
                   (id, definition, created_by, created_at, updated_by, updated_at, deleted_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (id) DO UPDATE SET definition = EXCLUDED.definition,
                   updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at,
                   deleted_at = EXCLUDED.deleted_at"#,
            r.id,
            r.definition,
            r.created_by,
            r.created_at,
            r.updated_by,
            r.updated_at,
            r.deleted_at
        )
        .execute(self.db()?)
        .await
        .map(|_| ())
        .map_err(|e| self.failed(e))
    }

    async fn delete_room(&self, id: &str, by: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        sqlx::query!(
            "UPDATE waiting_rooms SET deleted_at = $3, updated_by = $2, updated_at = $3 WHERE id = $1 AND deleted_at IS NULL",
            id,
            by,
            at
        )
        .execute(self.db()?)
        .await
        .map(|r| r.rows_affected() == 1)
        .map_err(|e| self.failed(e))
    }
}

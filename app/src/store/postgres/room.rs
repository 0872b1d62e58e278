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

    async fn put_room(
        &self,
        r: &StoredRoom,
        kind: &str,
        offices: &[String],
    ) -> Result<(), StoreError> {
        // One statement: the room and its change in the audit log, or neither.
        sqlx::query!(
            r#"WITH stored AS (
                   INSERT INTO waiting_rooms
                       (id, definition, created_by, created_at, updated_by, updated_at, deleted_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (id) DO UPDATE SET definition = EXCLUDED.definition,
                       updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at,
                       deleted_at = EXCLUDED.deleted_at
                   RETURNING id
               )
               INSERT INTO room_events (office_id, room_id, kind, actor, at, definition)
               SELECT office, stored.id, $8, $5, $6, $2 FROM stored, unnest($9::text[]) AS office"#,
            r.id,
            r.definition,
            r.created_by,
            r.created_at,
            r.updated_by,
            r.updated_at,
            r.deleted_at,
            kind,
            offices
        )
        .execute(self.db()?)
        .await
        .map(|_| ())
        .map_err(|e| self.failed(e))
    }

    async fn delete_room(
        &self,
        id: &str,
        by: &str,
        at: DateTime<Utc>,
        offices: &[String],
    ) -> Result<bool, StoreError> {
        let deleted = sqlx::query_scalar!(
            r#"WITH deleted AS (
                   UPDATE waiting_rooms SET deleted_at = $3, updated_by = $2, updated_at = $3
                   WHERE id = $1 AND deleted_at IS NULL RETURNING id, definition
               ), logged AS (
                   INSERT INTO room_events (office_id, room_id, kind, actor, at, definition)
                   SELECT office, deleted.id, 'deleted', $2, $3, deleted.definition
                   FROM deleted, unnest($4::text[]) AS office
               )
               SELECT count(*) AS "n!" FROM deleted"#,
            id,
            by,
            at,
            offices
        )
        .fetch_one(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(deleted == 1)
    }
}

//! Waiting rooms defined through the admin API, on SQLite.

use crate::{SqliteLedger, ms, store_error, time};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use madoguchi_core::store::StoreError;
use madoguchi_core::store::room::{RoomLedger, StoredRoom};

struct RoomRow {
    id: String,
    definition: String,
    created_by: String,
    created_at: i64,
    updated_by: String,
    updated_at: i64,
    deleted_at: Option<i64>,
}

impl TryFrom<RoomRow> for StoredRoom {
    type Error = StoreError;

    fn try_from(r: RoomRow) -> Result<Self, StoreError> {
        Ok(StoredRoom {
            id: r.id,
            definition: r.definition,
            created_by: r.created_by,
            created_at: time(r.created_at)?,
            updated_by: r.updated_by,
            updated_at: time(r.updated_at)?,
            deleted_at: r.deleted_at.map(time).transpose()?,
        })
    }
}

#[async_trait]
impl RoomLedger for SqliteLedger {
    async fn stored_rooms(&self) -> Result<Vec<StoredRoom>, StoreError> {
        sqlx::query_as!(
            RoomRow,
            "SELECT * FROM waiting_rooms ORDER BY created_at, id"
        )
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?
        .into_iter()
        .map(StoredRoom::try_from)
        .collect()
    }

    async fn put_room(
        &self,
        r: &StoredRoom,
        kind: &str,
        offices: &[String],
    ) -> Result<(), StoreError> {
        let (created, updated, deleted) =
            (ms(r.created_at), ms(r.updated_at), r.deleted_at.map(ms));
        // One transaction: the room and its change in the audit log, or neither.
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        sqlx::query!(
            r#"INSERT INTO waiting_rooms
                   (id, definition, created_by, created_at, updated_by, updated_at, deleted_at)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
               ON CONFLICT (id) DO UPDATE SET definition = excluded.definition,
                   updated_by = excluded.updated_by, updated_at = excluded.updated_at,
                   deleted_at = excluded.deleted_at"#,
            r.id,
            r.definition,
            r.created_by,
            created,
            r.updated_by,
            updated,
            deleted
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        for office in offices {
            room_event(
                &mut tx,
                office,
                &r.id,
                kind,
                &r.updated_by,
                updated,
                &r.definition,
            )
            .await?;
        }
        tx.commit().await.map_err(store_error)
    }

    async fn delete_room(
        &self,
        id: &str,
        by: &str,
        at: DateTime<Utc>,
        offices: &[String],
    ) -> Result<bool, StoreError> {
        let at = ms(at);
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let definition = sqlx::query_scalar!(
            "UPDATE waiting_rooms SET deleted_at = ?3, updated_by = ?2, updated_at = ?3
             WHERE id = ?1 AND deleted_at IS NULL RETURNING definition",
            id,
            by,
            at
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let Some(definition) = definition else {
            return Ok(false);
        };
        for office in offices {
            room_event(&mut tx, office, id, "deleted", by, at, &definition).await?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }
}

async fn room_event(
    tx: &mut sqlx::SqliteConnection,
    office: &str,
    room: &str,
    kind: &str,
    actor: &str,
    at: i64,
    definition: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO room_events (office_id, room_id, kind, actor, at, definition)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        office,
        room,
        kind,
        actor,
        at,
        definition
    )
    .execute(tx)
    .await
    .map(|_| ())
    .map_err(store_error)
}

//! Staff bearer tokens: created by the CLI (`madoguchi staff-token create`), shown once,
//! stored as SHA-256 hashes (a token has 256 random bits, so a plain hash is enough),
//! scoped to one office and a role, revocable.

use crate::domain::OfficeId;
use crate::domain::time::Clock;
use crate::service::keys::fingerprint;
use crate::store::StoreError;
use crate::store::queue::{QueueLedger, StaffRole, StaffToken};
use data_encoding::BASE32_NOPAD;
use rand::RngCore;
use std::sync::Arc;
use uuid::Uuid;

pub const TOKEN_PREFIX: &str = "mdg_";

/// Who is acting, once the token checked out.
#[derive(Debug, Clone)]
pub struct StaffPrincipal {
    pub token_id: Uuid,
    pub office: OfficeId,
    pub role: StaffRole,
}

impl StaffPrincipal {
    /// How the audit trail names the actor (never the token itself).
    pub fn actor(&self) -> String {
        format!("staff:{}", self.token_id)
    }

    pub fn may_act_for(&self, office: &OfficeId) -> bool {
        &self.office == office
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no valid staff token")]
    Unauthenticated,
    /// Too many unknown tokens from this client: wait this long.
    #[error("too many failed sign-ins; retry in {0:?}")]
    TooManyGuesses(std::time::Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct StaffService {
    ledger: Arc<dyn QueueLedger>,
    clock: Arc<dyn Clock>,
    guesses: Arc<crate::service::guesses::Guesses>,
}

fn hash(token: &str) -> [u8; 32] {
    fingerprint(&[b"madoguchi/staff-token/v1", token.as_bytes()])
}

impl StaffService {
    pub fn new(
        ledger: Arc<dyn QueueLedger>,
        clock: Arc<dyn Clock>,
        guesses: Arc<crate::service::guesses::Guesses>,
    ) -> Self {
        Self {
            ledger,
            clock,
            guesses,
        }
    }

    /// Creates a token; the plain text is returned once and never stored.
    pub async fn create(
        &self,
        office: OfficeId,
        role: StaffRole,
        label: &str,
    ) -> Result<(StaffToken, String), StoreError> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let plain = format!(
            "{TOKEN_PREFIX}{}",
            BASE32_NOPAD.encode(&bytes).to_ascii_lowercase()
        );
        let token = StaffToken {
            id: Uuid::new_v4(),
            office_id: office,
            role,
            token_hash: hash(&plain),
            label: label.to_owned(),
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.ledger.insert_staff_token(&token).await?;
        Ok((token, plain))
    }

    pub async fn revoke(&self, id: Uuid) -> Result<bool, StoreError> {
        self.ledger.revoke_staff_token(id, self.clock.now()).await
    }

    pub async fn list(&self) -> Result<Vec<StaffToken>, StoreError> {
        self.ledger.staff_tokens().await
    }

    /// The principal behind an `Authorization: Bearer <token>` value (or the console's
    /// cookie), from `client`; unknown tokens are throttled per client.
    pub async fn authenticate(
        &self,
        bearer: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<StaffPrincipal, AuthError> {
        self.guesses
            .check(client, None)
            .map_err(AuthError::TooManyGuesses)?;
        let found = self.principal(bearer).await;
        if matches!(found, Err(AuthError::Unauthenticated)) {
            self.guesses.failed(client, None);
        }
        found
    }

    async fn principal(&self, bearer: &str) -> Result<StaffPrincipal, AuthError> {
        let token = bearer.trim();
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Err(AuthError::Unauthenticated);
        }
        match self.ledger.staff_token_by_hash(&hash(token)).await? {
            Some(t) if t.revoked_at.is_none() => Ok(StaffPrincipal {
                token_id: t.id,
                office: t.office_id,
                role: t.role,
            }),
            _ => Err(AuthError::Unauthenticated),
        }
    }
}

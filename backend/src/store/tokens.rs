//! Tokens issued to zones and dataplanes: ids, subjects and revocations (never the secrets).

use std::collections::BTreeMap;

use sqlx::Row;

use super::audit::{Actor, AuditEntry, record};
use super::resources::tenant_of;
use super::{Store, now_millis};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Zone,
    Dataplane,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Zone => "zone",
            TokenKind::Dataplane => "dataplane",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub kind: TokenKind,
    /// Empty for zone tokens.
    pub mesh: String,
    /// The zone, or the dataplane's service.
    pub subject: String,
    pub tags: BTreeMap<String, String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

fn row_to_token(row: &sqlx::any::AnyRow) -> Result<TokenRow> {
    let kind: String = row.try_get("kind")?;
    let tags: String = row.try_get("tags")?;
    Ok(TokenRow {
        id: row.try_get("id")?,
        kind: if kind == "zone" {
            TokenKind::Zone
        } else {
            TokenKind::Dataplane
        },
        mesh: row.try_get("mesh")?,
        subject: row.try_get("subject")?,
        tags: serde_json::from_str(&tags)
            .map_err(|error| Error::Internal(format!("stored token tags: {error}")))?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    pub async fn insert_token(&self, token: &TokenRow, actor: &Actor) -> Result<()> {
        let tags = serde_json::to_string(&token.tags)
            .map_err(|error| Error::Internal(format!("token tags: {error}")))?;
        let mut transaction = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO control_tokens (id, kind, mesh, subject, tags, created_at, expires_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(&token.id)
        .bind(token.kind.as_str())
        .bind(&token.mesh)
        .bind(&token.subject)
        .bind(tags)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&mut *transaction)
        .await?;
        let entry = self.token_entry("issue", token).await?;
        record(&mut transaction, actor, &entry).await?;
        transaction.commit().await?;
        self.credentials_changed();
        Ok(())
    }

    /// The audit entry of an action on a control-plane token.
    async fn token_entry(&self, action: &str, token: &TokenRow) -> Result<AuditEntry> {
        Ok(match token.kind {
            TokenKind::Zone => AuditEntry::new(action, "ZoneToken", &token.id),
            TokenKind::Dataplane => {
                let tenant = self
                    .get(weft_model::Kind::Mesh, "", &token.mesh)
                    .await?
                    .map(|mesh| tenant_of(&mesh.spec))
                    .unwrap_or_default();
                AuditEntry::new(action, "DataplaneToken", &token.id)
                    .in_mesh(&token.mesh)
                    .in_tenant(&tenant)
            }
        })
    }

    /// Tokens of one kind for one mesh ('' for zone tokens) and optionally one subject, newest first.
    pub async fn tokens(
        &self,
        kind: TokenKind,
        mesh: &str,
        subject: Option<&str>,
    ) -> Result<Vec<TokenRow>> {
        let rows = sqlx::query(
            "SELECT id, kind, mesh, subject, tags, created_at, expires_at, revoked_at FROM control_tokens
             WHERE kind = $1 AND mesh = $2 AND ($3 = '' OR subject = $3)
             ORDER BY created_at DESC, id",
        )
        .bind(kind.as_str())
        .bind(mesh)
        .bind(subject.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_to_token).collect()
    }

    pub async fn token(&self, id: &str) -> Result<Option<TokenRow>> {
        let row = sqlx::query(
            "SELECT id, kind, mesh, subject, tags, created_at, expires_at, revoked_at FROM control_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(row_to_token).transpose()
    }

    /// Revokes a token; false when it was revoked already.
    pub async fn revoke_token(&self, token: &TokenRow, actor: &Actor) -> Result<bool> {
        let entry = self.token_entry("revoke", token).await?;
        let mut transaction = self.pool.begin().await?;
        let result = sqlx::query(
            "UPDATE control_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now_millis())
        .bind(&token.id)
        .execute(&mut *transaction)
        .await?;
        let revoked = result.rows_affected() > 0;
        if revoked {
            record(&mut transaction, actor, &entry).await?;
            transaction.commit().await?;
            self.credentials_changed();
        }
        Ok(revoked)
    }

    /// Ids of revoked tokens that have not expired yet (expired ones fail verification anyway).
    pub async fn revoked_token_ids(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM control_tokens WHERE revoked_at IS NOT NULL AND expires_at > $1 ORDER BY id",
        )
        .bind(now_millis())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<String, _>("id")?))
            .collect()
    }
}

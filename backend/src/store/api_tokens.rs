//! API tokens (for automation) and revoked login tokens. Secrets are never stored: a token is
//! a JWT whose `jti` is the id kept here.

use sqlx::Row;
use weft_model::tenant::Role;

use super::audit::{Actor, AuditEntry, record};
use super::{Store, now_millis};
use crate::error::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiTokenRow {
    pub id: String,
    pub username: String,
    pub name: String,
    /// The one tenant the token may act in, when narrowed.
    pub tenant: Option<String>,
    /// The highest role the token may use, when narrowed.
    pub role: Option<Role>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// `SELECT <columns> FROM api_tokens <rest>` as a static string.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, username, name, tenant, role, created_at, expires_at, revoked_at FROM api_tokens ",
            $rest
        )
    };
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<ApiTokenRow> {
    let tenant: String = row.try_get("tenant")?;
    let role: String = row.try_get("role")?;
    Ok(ApiTokenRow {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        name: row.try_get("name")?,
        tenant: (!tenant.is_empty()).then_some(tenant),
        role: Role::parse(&role),
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    pub async fn insert_api_token(&self, token: &ApiTokenRow, actor: &Actor) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, username, name, tenant, role, created_at, expires_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(&token.id)
        .bind(&token.username)
        .bind(&token.name)
        .bind(token.tenant.clone().unwrap_or_default())
        .bind(token.role.map_or("", Role::name))
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&mut *transaction)
        .await?;
        record(
            &mut transaction,
            actor,
            &AuditEntry::new("issue", "ApiToken", &token.id)
                .in_tenant(token.tenant.as_deref().unwrap_or_default()),
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    pub async fn api_token(&self, id: &str) -> Result<Option<ApiTokenRow>> {
        let row = sqlx::query(select!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// API tokens of `username` (every user's when `None`), newest first.
    pub async fn api_tokens(&self, username: Option<&str>) -> Result<Vec<ApiTokenRow>> {
        let rows = sqlx::query(select!(
            "WHERE ($1 = '' OR username = $1) ORDER BY created_at DESC, id"
        ))
        .bind(username.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Revokes an API token; false when it was revoked already.
    pub async fn revoke_api_token(&self, token: &ApiTokenRow, actor: &Actor) -> Result<bool> {
        let mut transaction = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now_millis())
        .bind(&token.id)
        .execute(&mut *transaction)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        record(
            &mut transaction,
            actor,
            &AuditEntry::new("revoke", "ApiToken", &token.id)
                .in_tenant(token.tenant.as_deref().unwrap_or_default()),
        )
        .await?;
        transaction.commit().await?;
        Ok(true)
    }

    /// Revokes a login token until it expires (logout).
    pub async fn revoke_session(&self, jti: &str, expires_at: i64, actor: &Actor) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&mut *transaction)
        .await?;
        // Expired revocations are of no use any more.
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
            .bind(now_millis())
            .execute(&mut *transaction)
            .await?;
        record(
            &mut transaction,
            actor,
            &AuditEntry::new("logout", "Session", jti),
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    pub async fn session_revoked(&self, jti: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM revoked_tokens WHERE jti = $1")
                .bind(jti)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }
}

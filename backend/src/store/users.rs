//! Users and JWT signing keys.

use sqlx::Row;
use weft_model::tenant::TenantSpec;

use super::audit::{Actor, AuditEntry, record};
use super::resources::{collect, write_spec};
use super::{Store, next_revision, now_millis};
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub username: String,
    pub password_hash: String,
    pub platform_admin: bool,
    /// Bumped when the password changes: tokens that name an older generation are refused.
    pub token_generation: u64,
    pub created_at: i64,
}

impl UserRow {
    pub fn new(username: &str, password_hash: String, platform_admin: bool) -> UserRow {
        UserRow {
            username: username.into(),
            password_hash,
            platform_admin,
            token_generation: 0,
            created_at: now_millis(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRow {
    pub kid: String,
    pub private_key_pem: String,
    pub public_key_pem: String,
    pub created_at: i64,
}

/// `SELECT <columns> FROM users <rest>` as a static string.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT username, password_hash, platform_admin, token_generation, created_at FROM users ",
            $rest
        )
    };
}

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRow> {
    Ok(UserRow {
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        platform_admin: row.try_get::<i64, _>("platform_admin")? != 0,
        token_generation: u64::try_from(row.try_get::<i64, _>("token_generation")?).unwrap_or(0),
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn user(&self, username: &str) -> Result<Option<UserRow>> {
        let row = sqlx::query(select!("WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn users(&self) -> Result<Vec<UserRow>> {
        let rows = sqlx::query(select!("ORDER BY username"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Creates or updates a user outside the API (the admin user at start, tests).
    pub async fn upsert_user(&self, user: &UserRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (username, password_hash, platform_admin, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,
               platform_admin = excluded.platform_admin,
               token_generation = CASE WHEN users.password_hash = excluded.password_hash
                 THEN users.token_generation ELSE users.token_generation + 1 END",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(i64::from(user.platform_admin))
        .bind(user.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Creates a user; 409 when the name is taken.
    pub async fn create_user(&self, user: &UserRow, actor: &Actor) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (username, password_hash, platform_admin, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(i64::from(user.platform_admin))
        .bind(user.created_at)
        .execute(&mut *transaction)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(Error::Conflict(format!(
                "user {:?} exists already",
                user.username
            )));
        }
        record(
            &mut transaction,
            actor,
            &AuditEntry::new("create", "User", &user.username),
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Sets a user's password and revokes every token the user holds.
    pub async fn set_password(&self, username: &str, hash: &str, actor: &Actor) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE users SET password_hash = $1, token_generation = token_generation + 1 WHERE username = $2",
        )
        .bind(hash)
        .bind(username)
        .execute(&mut *transaction)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(Error::NotFound(format!("user {username:?}")));
        }
        record(
            &mut transaction,
            actor,
            &AuditEntry::new("set-password", "User", username),
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Makes a user a platform admin or not. The last platform admin stays one.
    pub async fn set_platform_admin(
        &self,
        username: &str,
        platform_admin: bool,
        actor: &Actor,
    ) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        // Touching the revision counter first serialises this with every other write.
        next_revision(&mut transaction).await?;
        if !platform_admin {
            keep_an_admin(&mut transaction, username).await?;
        }
        let updated = sqlx::query("UPDATE users SET platform_admin = $1 WHERE username = $2")
            .bind(i64::from(platform_admin))
            .bind(username)
            .execute(&mut *transaction)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(Error::NotFound(format!("user {username:?}")));
        }
        sqlx::query("UPDATE revision_counter SET value = value - 1 WHERE id = 1")
            .execute(&mut *transaction)
            .await?;
        let action = if platform_admin {
            "grant-platform-admin"
        } else {
            "revoke-platform-admin"
        };
        record(
            &mut transaction,
            actor,
            &AuditEntry::new(action, "User", username),
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Deletes a user: their tokens stop working, and they leave every tenant.
    pub async fn delete_user(&self, username: &str, actor: &Actor) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        let mut revision = next_revision(&mut transaction).await?;
        let mut last_written = 0;
        keep_an_admin(&mut transaction, username).await?;
        let deleted = sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(&mut *transaction)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(Error::NotFound(format!("user {username:?}")));
        }
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE username = $2 AND revoked_at IS NULL",
        )
        .bind(now_millis())
        .bind(username)
        .execute(&mut *transaction)
        .await?;
        let tenants = sqlx::query(
            "SELECT kind, mesh, name, zone, revision, deleted, labels, spec, created_at, updated_at
             FROM resources WHERE kind = 'Tenant' AND deleted = 0",
        )
        .fetch_all(&mut *transaction)
        .await?;
        for tenant in collect(tenants)? {
            let mut spec: TenantSpec = serde_json::from_value(tenant.spec.clone())
                .map_err(|error| Error::Internal(format!("stored tenant: {error}")))?;
            let before = spec.members.len();
            spec.members.retain(|member| member.user != username);
            if spec.members.len() == before {
                continue;
            }
            let value = serde_json::to_value(&spec)
                .map_err(|error| Error::Internal(format!("tenant spec: {error}")))?;
            write_spec(&mut transaction, &tenant, value, revision).await?;
            last_written = revision;
            revision = next_revision(&mut transaction).await?;
        }
        sqlx::query("UPDATE revision_counter SET value = value - 1 WHERE id = 1")
            .execute(&mut *transaction)
            .await?;
        record(
            &mut transaction,
            actor,
            &AuditEntry::new("delete", "User", username),
        )
        .await?;
        transaction.commit().await?;
        if last_written > 0 {
            self.published(last_written);
        }
        Ok(())
    }

    /// Signing keys, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>> {
        let rows = sqlx::query(
            "SELECT kid, private_key_pem, public_key_pem, created_at FROM signing_keys ORDER BY created_at DESC, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SigningKeyRow {
                    kid: row.try_get("kid")?,
                    private_key_pem: row.try_get("private_key_pem")?,
                    public_key_pem: row.try_get("public_key_pem")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Stores a key unless one with the same id exists (two replicas starting at once).
    pub async fn insert_signing_key(&self, key: &SigningKeyRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_key_pem, public_key_pem, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kid) DO NOTHING",
        )
        .bind(&key.kid)
        .bind(&key.private_key_pem)
        .bind(&key.public_key_pem)
        .bind(key.created_at)
        .execute(&self.pool)
        .await?;
        self.credentials_changed();
        Ok(())
    }

    /// Stores a new signing key (it signs from now on; older keys keep verifying) and records
    /// the rotation.
    pub async fn rotate_signing_key(&self, key: &SigningKeyRow, actor: &Actor) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_key_pem, public_key_pem, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.kid)
        .bind(&key.private_key_pem)
        .bind(&key.public_key_pem)
        .bind(key.created_at)
        .execute(&mut *transaction)
        .await?;
        record(
            &mut transaction,
            actor,
            &AuditEntry::new("rotate", "SigningKey", &key.kid),
        )
        .await?;
        transaction.commit().await?;
        self.credentials_changed();
        Ok(())
    }
}

/// Refuses to take away the last platform admin (`username` is about to stop being one).
async fn keep_an_admin(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    username: &str,
) -> Result<()> {
    let others: i64 = sqlx::query(
        "SELECT COUNT(*) AS count FROM users WHERE platform_admin = 1 AND username <> $1",
    )
    .bind(username)
    .fetch_one(&mut **transaction)
    .await?
    .try_get("count")?;
    if others == 0 {
        let is_admin =
            sqlx::query("SELECT 1 AS one FROM users WHERE username = $1 AND platform_admin = 1")
                .bind(username)
                .fetch_optional(&mut **transaction)
                .await?
                .is_some();
        if is_admin {
            return Err(Error::Conflict(format!(
                "{username:?} is the last platform admin; make another user one first"
            )));
        }
    }
    Ok(())
}

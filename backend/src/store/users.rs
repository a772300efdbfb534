//! Users and JWT signing keys.

use sqlx::Row;

use super::{Store, now_millis};
use crate::error::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub username: String,
    pub password_hash: String,
    pub platform_admin: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRow {
    pub kid: String,
    pub private_key_pem: String,
    pub public_key_pem: String,
    pub created_at: i64,
}

impl Store {
    pub async fn user(&self, username: &str) -> Result<Option<UserRow>> {
        let row = sqlx::query(
            "SELECT username, password_hash, platform_admin FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(UserRow {
                username: row.try_get("username")?,
                password_hash: row.try_get("password_hash")?,
                platform_admin: row.try_get::<i64, _>("platform_admin")? != 0,
            })
        })
        .transpose()
    }

    pub async fn upsert_user(&self, user: &UserRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (username, password_hash, platform_admin, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,
               platform_admin = excluded.platform_admin",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(i64::from(user.platform_admin))
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
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
        Ok(())
    }
}

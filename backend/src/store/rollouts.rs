//! Rollout state and its decision history. A state changes only by
//! compare-and-swap on its version, with its decisions (and, for a user's action, the audit
//! entry) in the same transaction, so a step is never made twice or lost.

use sqlx::Row;
use weft_model::canary::{Decision, RolloutState};

use super::audit::{Actor, AuditEntry, record};
use super::{Store, now_millis};
use crate::error::{Error, Result};

/// A rollout's stored state.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutRow {
    pub mesh: String,
    pub name: String,
    pub state: RolloutState,
    /// Compare-and-swap version.
    pub version: i64,
}

/// One entry of the history, newest first when listed.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryRow {
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub generation: i64,
    pub decision: Decision,
}

fn state_row(row: &sqlx::any::AnyRow) -> Result<RolloutRow> {
    let text: String = row.try_get("state")?;
    Ok(RolloutRow {
        mesh: row.try_get("mesh")?,
        name: row.try_get("name")?,
        state: serde_json::from_str(&text)
            .map_err(|error| Error::Internal(format!("a stored rollout state: {error}")))?,
        version: row.try_get("version")?,
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    pub async fn rollout_state(&self, mesh: &str, name: &str) -> Result<Option<RolloutRow>> {
        sqlx::query(
            "SELECT mesh, name, state, version FROM rollout_states WHERE mesh = $1 AND name = $2",
        )
        .bind(mesh)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(state_row)
        .transpose()
    }

    pub async fn rollout_states(&self) -> Result<Vec<RolloutRow>> {
        sqlx::query("SELECT mesh, name, state, version FROM rollout_states ORDER BY mesh, name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(state_row)
            .collect()
    }

    /// Stores `state` if the stored version is still `expected` (`None`: no state yet), with
    /// `decisions` in the history and, for a user's action, `audit`. `Ok(false)` when someone
    /// else changed the rollout first (nothing is written then).
    pub async fn advance_rollout(
        &self,
        mesh: &str,
        name: &str,
        expected: Option<i64>,
        state: &RolloutState,
        decisions: &[Decision],
        audit: Option<(&Actor, &AuditEntry)>,
    ) -> Result<bool> {
        let text = serde_json::to_string(state)
            .map_err(|error| Error::Internal(format!("encoding a rollout state: {error}")))?;
        let now = now_millis();
        let mut transaction = self.pool.begin().await?;
        let written = match expected {
            Some(version) => sqlx::query(
                "UPDATE rollout_states SET state = $1, version = version + 1, updated_at = $2
                 WHERE mesh = $3 AND name = $4 AND version = $5",
            )
            .bind(&text)
            .bind(now)
            .bind(mesh)
            .bind(name)
            .bind(version)
            .execute(&mut *transaction)
            .await?
            .rows_affected(),
            None => sqlx::query(
                "INSERT INTO rollout_states (mesh, name, state, version, updated_at)
                 VALUES ($1, $2, $3, 1, $4) ON CONFLICT (mesh, name) DO NOTHING",
            )
            .bind(mesh)
            .bind(name)
            .bind(&text)
            .bind(now)
            .execute(&mut *transaction)
            .await?
            .rows_affected(),
        };
        if written != 1 {
            return Ok(false);
        }
        for decision in decisions {
            let decision = serde_json::to_string(decision)
                .map_err(|error| Error::Internal(format!("encoding a decision: {error}")))?;
            sqlx::query(
                "INSERT INTO rollout_history (mesh, name, generation, at, decision)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(mesh)
            .bind(name)
            .bind(to_i64(state.generation))
            .bind(now)
            .bind(decision)
            .execute(&mut *transaction)
            .await?;
        }
        if let Some((actor, entry)) = audit {
            record(&mut transaction, actor, entry).await?;
        }
        transaction.commit().await?;
        Ok(true)
    }

    /// Forgets a deleted rollout: its state and its history.
    pub async fn forget_rollout(&self, mesh: &str, name: &str) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        for statement in [
            "DELETE FROM rollout_states WHERE mesh = $1 AND name = $2",
            "DELETE FROM rollout_history WHERE mesh = $1 AND name = $2",
        ] {
            sqlx::query(statement)
                .bind(mesh)
                .bind(name)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// History entries of a rollout, newest first: at most `limit`, older than `before_id`.
    pub async fn rollout_history(
        &self,
        mesh: &str,
        name: &str,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<HistoryRow>> {
        let rows = sqlx::query(
            "SELECT id, at, generation, decision FROM rollout_history
             WHERE mesh = $1 AND name = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
        )
        .bind(mesh)
        .bind(name)
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let text: String = row.try_get("decision")?;
                Ok(HistoryRow {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    generation: row.try_get("generation")?,
                    decision: serde_json::from_str(&text)
                        .map_err(|error| Error::Internal(format!("a stored decision: {error}")))?,
                })
            })
            .collect()
    }
}

//! Replicas of weft-global sharing the store: heartbeats, the leader lease with its fencing
//! term, which replica holds each zone's stream, what zones reported (shared so any replica
//! serves it), telemetry seconds shared between replicas, and compaction of the change feed.

use sqlx::Row;

use super::{Store, now_millis};
use crate::error::Result;

/// `$first, $first+1, …` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|index| format!("${index}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One replica's telemetry of one mesh for one second.
pub struct TrafficSecond {
    pub replica: String,
    pub mesh: String,
    pub second: u64,
    pub edges: String,
}

impl Store {
    /// Records that replica `id` is alive and still holds the streams of `zones` (which keeps
    /// them online should a leader have thought the replica gone).
    pub async fn replica_heartbeat(
        &self,
        id: &str,
        started_at: i64,
        zones: &[String],
    ) -> Result<()> {
        let now = now_millis();
        sqlx::query(
            "INSERT INTO replicas (id, started_at, heartbeat_at) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        )
        .bind(id)
        .bind(started_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if !zones.is_empty() {
            let sql = format!(
                "UPDATE zones SET online = 1, last_seen = $1 WHERE replica = $2 AND name IN ({})",
                placeholders(3, zones.len())
            );
            // Only numbered placeholders are formatted in; the names are bound.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(id);
            for zone in zones {
                query = query.bind(zone);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Replica `id` is shutting down: its zones are offline and what they reported through it
    /// no longer holds.
    pub async fn replica_stopped(&self, id: &str) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query(
            "UPDATE zones SET online = 0, last_seen = $1 WHERE replica = $2 AND online = 1",
        )
        .bind(now_millis())
        .bind(id)
        .execute(&mut *transaction)
        .await?;
        sqlx::query("DELETE FROM zone_reports WHERE replica = $1")
            .bind(id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("DELETE FROM replicas WHERE id = $1")
            .bind(id)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The ids of the replicas whose heartbeat is at most `fresh_millis` old.
    pub async fn live_replicas(&self, fresh_millis: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM replicas WHERE heartbeat_at >= $1 ORDER BY id")
            .bind(now_millis().saturating_sub(fresh_millis))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| row.try_get("id").map_err(Into::into))
            .collect()
    }

    /// Takes or renews the lease `name` for `holder` for `ttl_millis` and returns its term,
    /// which grows each time the lease changes hands; `None` while another holder's lease runs.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_millis: i64,
    ) -> Result<Option<u64>> {
        let now = now_millis();
        let row = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at, term) VALUES ($1, $2, $3, 1)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
                 term = CASE WHEN leases.holder = excluded.holder THEN leases.term ELSE leases.term + 1 END
             WHERE leases.holder = excluded.holder OR leases.expires_at < $4
             RETURNING term",
        )
        .bind(name)
        .bind(holder)
        .bind(now.saturating_add(ttl_millis))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(
                u64::try_from(row.try_get::<i64, _>("term")?).unwrap_or(0),
            )),
            None => Ok(None),
        }
    }

    /// Gives the lease up (on shutdown) so another replica takes it at once; the term stays.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// As the holder of lease `lease` in `term` (checked in the same transaction, so a deposed
    /// leader changes nothing): marks offline every online zone whose replica has not beaten
    /// for `stale_millis`, forgets their reports, and returns their names.
    pub async fn orphaned_zones_offline(
        &self,
        lease: &str,
        holder: &str,
        term: u64,
        stale_millis: i64,
    ) -> Result<Vec<String>> {
        let now = now_millis();
        let mut transaction = self.pool.begin().await?;
        let held = sqlx::query(
            "SELECT 1 AS held FROM leases WHERE name = $1 AND holder = $2 AND term = $3 AND expires_at >= $4",
        )
        .bind(lease)
        .bind(holder)
        .bind(i64::try_from(term).unwrap_or(i64::MAX))
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await?;
        if held.is_none() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT name FROM zones WHERE online = 1 AND replica NOT IN
                 (SELECT id FROM replicas WHERE heartbeat_at >= $1)",
        )
        .bind(now.saturating_sub(stale_millis))
        .fetch_all(&mut *transaction)
        .await?;
        let names: Vec<String> = rows
            .iter()
            .map(|row| row.try_get("name"))
            .collect::<std::result::Result<_, _>>()?;
        for name in &names {
            sqlx::query("UPDATE zones SET online = 0 WHERE name = $1")
                .bind(name)
                .execute(&mut *transaction)
                .await?;
            sqlx::query("DELETE FROM zone_reports WHERE zone = $1")
                .bind(name)
                .execute(&mut *transaction)
                .await?;
        }
        // Replicas gone for an hour are no longer worth listing.
        sqlx::query("DELETE FROM replicas WHERE heartbeat_at < $1")
            .bind(now.saturating_sub(3_600_000))
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(names)
    }

    /// Stores the latest full `kind` report of `zone`, as received by `replica`.
    pub async fn put_zone_report(
        &self,
        zone: &str,
        kind: &str,
        replica: &str,
        payload: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO zone_reports (zone, kind, replica, version, payload) VALUES ($1, $2, $3, 1, $4)
             ON CONFLICT (zone, kind) DO UPDATE SET replica = excluded.replica,
                 payload = excluded.payload, version = zone_reports.version + 1",
        )
        .bind(zone)
        .bind(kind)
        .bind(replica)
        .bind(payload)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// (zone, kind, version) of every report received by a replica other than `replica`.
    pub async fn zone_report_versions(&self, replica: &str) -> Result<Vec<(String, String, u64)>> {
        let rows = sqlx::query(
            "SELECT zone, kind, version FROM zone_reports WHERE replica <> $1 ORDER BY zone, kind",
        )
        .bind(replica)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("zone")?,
                    row.try_get("kind")?,
                    u64::try_from(row.try_get::<i64, _>("version")?).unwrap_or(0),
                ))
            })
            .collect()
    }

    /// A stored report: its version and payload.
    pub async fn zone_report(&self, zone: &str, kind: &str) -> Result<Option<(u64, String)>> {
        let row =
            sqlx::query("SELECT version, payload FROM zone_reports WHERE zone = $1 AND kind = $2")
                .bind(zone)
                .bind(kind)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            Ok((
                u64::try_from(row.try_get::<i64, _>("version")?).unwrap_or(0),
                row.try_get("payload")?,
            ))
        })
        .transpose()
    }

    /// Forgets what `zone` reported through `replica` (its stream there ended).
    pub async fn delete_zone_reports(&self, zone: &str, replica: &str) -> Result<()> {
        sqlx::query("DELETE FROM zone_reports WHERE zone = $1 AND replica = $2")
            .bind(zone)
            .bind(replica)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores one finished second of `replica`'s telemetry of `mesh` (edges as JSON).
    pub async fn put_traffic_second(&self, second: &TrafficSecond) -> Result<()> {
        sqlx::query(
            "INSERT INTO traffic_seconds (replica, mesh, second, edges) VALUES ($1, $2, $3, $4)
             ON CONFLICT (replica, mesh, second) DO NOTHING",
        )
        .bind(&second.replica)
        .bind(&second.mesh)
        .bind(i64::try_from(second.second).unwrap_or(i64::MAX))
        .bind(&second.edges)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The telemetry seconds from `since` on written by replicas other than `replica`.
    pub async fn traffic_seconds_since(
        &self,
        replica: &str,
        since: u64,
    ) -> Result<Vec<TrafficSecond>> {
        let rows = sqlx::query(
            "SELECT replica, mesh, second, edges FROM traffic_seconds
             WHERE replica <> $1 AND second >= $2 ORDER BY second",
        )
        .bind(replica)
        .bind(i64::try_from(since).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(TrafficSecond {
                    replica: row.try_get("replica")?,
                    mesh: row.try_get("mesh")?,
                    second: u64::try_from(row.try_get::<i64, _>("second")?).unwrap_or(0),
                    edges: row.try_get("edges")?,
                })
            })
            .collect()
    }

    /// Drops shared telemetry seconds before `second`; returns how many.
    pub async fn forget_traffic_before(&self, second: u64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM traffic_seconds WHERE second < $1")
            .bind(i64::try_from(second).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes the tombstones older than `older_than` (unix milliseconds) and moves the
    /// compaction point up to the newest revision deleted: a zone resuming from before it gets
    /// a snapshot instead of the feed. Returns the compaction point.
    pub async fn compact_tombstones(&self, older_than: i64) -> Result<u64> {
        let mut transaction = self.pool.begin().await?;
        let newest: Option<i64> = sqlx::query(
            "SELECT MAX(revision) AS newest FROM resources WHERE deleted = 1 AND updated_at < $1",
        )
        .bind(older_than)
        .fetch_one(&mut *transaction)
        .await?
        .try_get("newest")?;
        let Some(newest) = newest else {
            transaction.rollback().await?;
            return self.compacted_revision().await;
        };
        // The point is written first, so a reader that sees a tombstone gone also sees it.
        let previous = compacted_in(&mut transaction).await?;
        let point = previous.max(u64::try_from(newest).unwrap_or(0));
        sqlx::query(
            "INSERT INTO store_meta (key, value) VALUES ('compacted_revision', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(point.to_string())
        .execute(&mut *transaction)
        .await?;
        sqlx::query("DELETE FROM resources WHERE deleted = 1 AND revision <= $1")
            .bind(i64::try_from(point).unwrap_or(i64::MAX))
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(point)
    }

    /// The newest revision whose tombstones may be gone (0 when nothing was compacted).
    pub async fn compacted_revision(&self) -> Result<u64> {
        let mut connection = self.pool.acquire().await?;
        compacted_in(&mut connection).await
    }
}

async fn compacted_in(connection: &mut sqlx::AnyConnection) -> Result<u64> {
    let row = sqlx::query("SELECT value FROM store_meta WHERE key = 'compacted_revision'")
        .fetch_optional(&mut *connection)
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<String, _>("value")?.parse().unwrap_or(0),
        None => 0,
    })
}

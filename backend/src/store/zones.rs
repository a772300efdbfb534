//! Zones: which zone control planes exist, whether they are connected, and how far their sync got.

use sqlx::Row;

use weft_model::Kind;
use weft_model::manifest::API_VERSION;
use weft_model::resource::{Author, Resource};

use super::{Store, now_millis};
use crate::error::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneRow {
    pub name: String,
    pub version: String,
    pub online: bool,
    pub last_seen: i64,
    /// Registered dataplanes per mesh.
    pub dataplanes: std::collections::BTreeMap<String, usize>,
}

impl Store {
    /// Registers the Zone resource of a connecting zone unless it exists; returns whether the
    /// zone is enabled.
    pub async fn register_zone(&self, name: &str) -> Result<bool> {
        if let Some(row) = self.get(Kind::Zone, "", name).await? {
            return Ok(row.spec.get("enabled") != Some(&serde_json::Value::Bool(false)));
        }
        let manifest = serde_json::json!({
            "apiVersion": API_VERSION, "kind": "Zone", "metadata": {"name": name}, "spec": {}
        });
        let resource = Resource::from_value(manifest, Author::Zone)
            .map_err(|errors| crate::error::Error::Internal(format!("zone resource: {errors}")))?;
        let actor = super::Actor::system(&format!("zone {name}"));
        match self.put(&resource, None, &actor).await {
            // Two replicas may register the same zone at once; the first write wins.
            Ok(_) | Err(crate::error::Error::Conflict(_)) => Ok(true),
            Err(error) => Err(error),
        }
    }

    /// Records a zone connection to `replica` and returns the zone revision to resume from:
    /// 0 (send a snapshot) when the zone is new or its store was recreated.
    pub async fn zone_connected(
        &self,
        name: &str,
        version: &str,
        zone_store_id: &str,
        replica: &str,
    ) -> Result<u64> {
        let now = now_millis();
        let mut transaction = self.pool.begin().await?;
        let existing =
            sqlx::query("SELECT zone_store_id, zone_revision FROM zones WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *transaction)
                .await?;
        let resume = match existing {
            Some(row) => {
                let stored_id: String = row.try_get("zone_store_id")?;
                let revision: i64 = row.try_get("zone_revision")?;
                let resume = if stored_id == zone_store_id {
                    revision
                } else {
                    0
                };
                sqlx::query(
                    "UPDATE zones SET version = $1, zone_store_id = $2, zone_revision = $3, online = 1, last_seen = $4,
                         replica = $5
                     WHERE name = $6",
                )
                .bind(version)
                .bind(zone_store_id)
                .bind(resume)
                .bind(now)
                .bind(replica)
                .bind(name)
                .execute(&mut *transaction)
                .await?;
                resume
            }
            None => {
                sqlx::query(
                    "INSERT INTO zones (name, version, zone_store_id, zone_revision, online, last_seen, created_at, replica)
                     VALUES ($1, $2, $3, 0, 1, $4, $4, $5)",
                )
                .bind(name)
                .bind(version)
                .bind(zone_store_id)
                .bind(now)
                .bind(replica)
                .execute(&mut *transaction)
                .await?;
                0
            }
        };
        transaction.commit().await?;
        Ok(u64::try_from(resume).unwrap_or(0))
    }

    pub async fn zone_seen(&self, name: &str) -> Result<()> {
        sqlx::query("UPDATE zones SET last_seen = $1 WHERE name = $2")
            .bind(now_millis())
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The zone's stream on `replica` ended; a newer stream on another replica keeps it online.
    pub async fn zone_disconnected(&self, name: &str, replica: &str) -> Result<()> {
        sqlx::query("UPDATE zones SET online = 0, last_seen = $1 WHERE name = $2 AND replica = $3")
            .bind(now_millis())
            .bind(name)
            .bind(replica)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn zones(&self) -> Result<Vec<ZoneRow>> {
        let counts = sqlx::query(
            "SELECT zone, mesh, COUNT(*) AS dataplanes FROM resources
             WHERE kind = 'Dataplane' AND deleted = 0 GROUP BY zone, mesh",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut by_zone: std::collections::BTreeMap<
            String,
            std::collections::BTreeMap<String, usize>,
        > = Default::default();
        for row in &counts {
            let count: i64 = row.try_get("dataplanes")?;
            by_zone
                .entry(row.try_get("zone")?)
                .or_default()
                .insert(row.try_get("mesh")?, usize::try_from(count).unwrap_or(0));
        }
        let rows = sqlx::query("SELECT name, version, online, last_seen FROM zones ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let name: String = row.try_get("name")?;
                Ok(ZoneRow {
                    dataplanes: by_zone.remove(&name).unwrap_or_default(),
                    name,
                    version: row.try_get("version")?,
                    online: row.try_get::<i64, _>("online")? != 0,
                    last_seen: row.try_get("last_seen")?,
                })
            })
            .collect()
    }
}

//! The audit log: one entry per write through the API, written in the write's transaction.

use sqlx::Row;

use super::{Store, now_millis};
use crate::error::Result;

/// Who is writing: the user, the token the request carried, and the client's address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actor {
    pub user: String,
    pub token: String,
    pub address: String,
}

impl Actor {
    /// Weft itself, acting on `why` (a zone registering, say).
    pub fn system(why: &str) -> Actor {
        Actor {
            user: format!("system: {why}"),
            token: String::new(),
            address: String::new(),
        }
    }
}

/// What one write did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditEntry {
    pub action: String,
    /// The tenant the write is inside of ('' for none).
    pub tenant: String,
    /// The mesh the write is inside of ('' for none).
    pub mesh: String,
    pub kind: String,
    pub name: String,
    pub before_version: Option<u64>,
    pub after_version: Option<u64>,
}

impl AuditEntry {
    pub fn new(action: &str, kind: &str, name: &str) -> AuditEntry {
        AuditEntry {
            action: action.into(),
            kind: kind.into(),
            name: name.into(),
            ..AuditEntry::default()
        }
    }

    pub fn in_tenant(mut self, tenant: &str) -> AuditEntry {
        self.tenant = tenant.into();
        self
    }

    pub fn in_mesh(mut self, mesh: &str) -> AuditEntry {
        self.mesh = mesh.into();
        self
    }
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: Actor,
    pub entry: AuditEntry,
}

/// Which entries to read, newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only these tenants' entries (`None`: every entry, for platform admins).
    pub tenants: Option<Vec<String>>,
    pub tenant: Option<String>,
    pub mesh: Option<String>,
    pub user: Option<String>,
    pub kind: Option<String>,
    /// Unix milliseconds, inclusive.
    pub since: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub until: Option<i64>,
    /// Only entries with a smaller id (the page before).
    pub before_id: Option<i64>,
    pub limit: u32,
}

fn version(value: Option<u64>) -> Option<i64> {
    value.map(|value| i64::try_from(value).unwrap_or(i64::MAX))
}

/// Records `entry` by `actor` inside `transaction`.
pub(super) async fn record(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &Actor,
    entry: &AuditEntry,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, token, address, action, tenant, mesh, kind, name, before_version, after_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(now_millis())
    .bind(&actor.user)
    .bind(&actor.token)
    .bind(&actor.address)
    .bind(&entry.action)
    .bind(&entry.tenant)
    .bind(&entry.mesh)
    .bind(&entry.kind)
    .bind(&entry.name)
    .bind(version(entry.before_version))
    .bind(version(entry.after_version))
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

impl Store {
    /// Records an entry on its own (for writes that are not in the store, such as a signing
    /// key made in memory first).
    pub async fn audit(&self, actor: &Actor, entry: &AuditEntry) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        record(&mut transaction, actor, entry).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Entries matching `query`, newest first.
    pub async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditRow>> {
        let mut sql = String::from(
            "SELECT id, at, actor, token, address, action, tenant, mesh, kind, name, before_version, after_version
             FROM audit_log WHERE 1 = 1",
        );
        enum Bind {
            Text(String),
            Number(i64),
        }
        // Placeholders are numbered in the order values are bound.
        let mut binds: Vec<Bind> = Vec::new();
        if let Some(tenants) = &query.tenants {
            if tenants.is_empty() {
                return Ok(Vec::new());
            }
            let mut list = Vec::new();
            for tenant in tenants {
                binds.push(Bind::Text(tenant.clone()));
                list.push(format!("${}", binds.len()));
            }
            sql.push_str(&format!(" AND tenant IN ({})", list.join(", ")));
        }
        for (column, value) in [
            ("tenant", &query.tenant),
            ("mesh", &query.mesh),
            ("actor", &query.user),
            ("kind", &query.kind),
        ] {
            if let Some(value) = value {
                binds.push(Bind::Text(value.clone()));
                sql.push_str(&format!(" AND {column} = ${}", binds.len()));
            }
        }
        for (column, op, value) in [
            ("at", ">=", query.since),
            ("at", "<", query.until),
            ("id", "<", query.before_id),
        ] {
            if let Some(value) = value {
                binds.push(Bind::Number(value));
                sql.push_str(&format!(" AND {column} {op} ${}", binds.len()));
            }
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", binds.len() + 1));
        // Only fixed column names and numbered placeholders are spliced in; values are bound.
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            statement = match bind {
                Bind::Text(text) => statement.bind(text),
                Bind::Number(number) => statement.bind(number),
            };
        }
        let rows = statement
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let version = |column: &str| -> Result<Option<u64>> {
                    Ok(row
                        .try_get::<Option<i64>, _>(column)?
                        .map(|value| u64::try_from(value).unwrap_or(0)))
                };
                Ok(AuditRow {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    actor: Actor {
                        user: row.try_get("actor")?,
                        token: row.try_get("token")?,
                        address: row.try_get("address")?,
                    },
                    entry: AuditEntry {
                        action: row.try_get("action")?,
                        tenant: row.try_get("tenant")?,
                        mesh: row.try_get("mesh")?,
                        kind: row.try_get("kind")?,
                        name: row.try_get("name")?,
                        before_version: version("before_version")?,
                        after_version: version("after_version")?,
                    },
                })
            })
            .collect()
    }
}

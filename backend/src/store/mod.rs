//! The global store: one interface over SQLite (embedded default) and Postgres.
//!
//! Every write takes the next value of one store-wide revision counter, so "everything after
//! revision N" is a complete, ordered change feed; deletions leave tombstones for the same reason.
//! Write transactions touch the counter first: that takes SQLite's write lock (or Postgres'
//! row lock) before anything is read, so concurrent writers queue instead of failing.

mod api_tokens;
mod audit;
mod cas;
mod replicas;
mod resources;
mod rollouts;
mod tokens;
mod users;
mod zones;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};
use tokio::sync::watch;

pub use api_tokens::ApiTokenRow;
pub use audit::{Actor, AuditEntry, AuditQuery, AuditRow};
pub use cas::{MeshCaRoot, MeshCaState, Phase};
pub use replicas::TrafficSecond;
pub use resources::{Outcome, StoredResource, ZoneChange, stamp_zone, tenant_of};
pub use rollouts::{HistoryRow, RolloutRow};
pub use tokens::{TokenKind, TokenRow};
pub use users::{SigningKeyRow, UserRow};
pub use zones::ZoneRow;

use crate::error::{Error, Result};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/global/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("../migrations/global/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    store_id: String,
    revision: watch::Sender<u64>,
    /// Bumped when tokens are issued or revoked (zones learn revocations from it).
    credentials: watch::Sender<u64>,
    /// Postgres: where to listen for other replicas' writes.
    listen_url: Option<std::sync::Arc<str>>,
}

/// The Postgres channel on which a write announces its revision to the other replicas.
const REVISION_CHANNEL: &str = "weft_revision";

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl Store {
    /// Connects, runs migrations and loads the store identity.
    /// `url` is `postgres://…` or `sqlite://path` (created when missing).
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(Error::BadRequest(format!(
                "unsupported database URL {:?}: use postgres://… or sqlite://path",
                redact(url)
            )));
        };
        let options = AnyConnectOptions::from_str(url)
            .map_err(|error| Error::BadRequest(format!("invalid database URL: {error}")))?;
        let pool_options = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(4)
                    .after_connect(|connection, _| {
                        Box::pin(async move {
                            connection.execute("PRAGMA journal_mode = WAL").await?;
                            connection.execute("PRAGMA busy_timeout = 10000").await?;
                            connection.execute("PRAGMA synchronous = NORMAL").await?;
                            Ok(())
                        })
                    })
            }
            Backend::Postgres => AnyPoolOptions::new().max_connections(16),
        };
        let pool = pool_options
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|error| Error::Internal(format!("migrations failed: {error}")))?;
        sqlx::query("INSERT INTO store_meta (key, value) VALUES ('store_id', $1) ON CONFLICT (key) DO NOTHING")
            .bind(uuid::Uuid::new_v4().to_string())
            .execute(&pool)
            .await?;
        let store_id: String = sqlx::query("SELECT value FROM store_meta WHERE key = 'store_id'")
            .fetch_one(&pool)
            .await?
            .try_get("value")?;
        let current: i64 = sqlx::query("SELECT value FROM revision_counter WHERE id = 1")
            .fetch_one(&pool)
            .await?
            .try_get("value")?;
        let (revision, _) = watch::channel(u64::try_from(current).unwrap_or(0));
        let (credentials, _) = watch::channel(0);
        Ok(Store {
            pool,
            backend,
            store_id,
            revision,
            credentials,
            listen_url: (backend == Backend::Postgres).then(|| url.into()),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Random identity of this store, fixed at creation; tells zones when global's history restarted.
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// Latest revision written through this process; wakes change-feed readers.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.revision.subscribe()
    }

    /// Ticks when this process issued or revoked a token.
    pub fn subscribe_credentials(&self) -> watch::Receiver<u64> {
        self.credentials.subscribe()
    }

    fn credentials_changed(&self) {
        self.credentials.send_modify(|tick| *tick += 1);
    }

    pub async fn current_revision(&self) -> Result<u64> {
        let value: i64 = sqlx::query("SELECT value FROM revision_counter WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get("value")?;
        Ok(u64::try_from(value).unwrap_or(0))
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write of this process committed at `revision`: wakes this process's feed readers and,
    /// on Postgres, announces it to the other replicas.
    fn published(&self, revision: u64) {
        self.seen(revision);
        if self.backend == Backend::Postgres {
            let pool = self.pool.clone();
            tokio::spawn(async move {
                let announced = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(REVISION_CHANNEL)
                    .bind(revision.to_string())
                    .execute(&pool)
                    .await;
                if let Err(error) = announced {
                    // The readers' periodic look finds the write anyway.
                    tracing::debug!(%error, "could not announce a revision");
                }
            });
        }
    }

    fn seen(&self, revision: u64) {
        self.revision.send_if_modified(|current| {
            if revision > *current {
                *current = revision;
                true
            } else {
                false
            }
        });
    }

    /// Follows the announcements until the connection fails.
    async fn listen(
        &self,
        url: &str,
        backoff: &mut weft_runtime::grpc::Backoff,
    ) -> std::result::Result<(), sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(REVISION_CHANNEL).await?;
        backoff.reset();
        loop {
            let notification = listener.recv().await?;
            if let Ok(revision) = notification.payload().parse::<u64>() {
                self.seen(revision);
            }
        }
    }

    /// On Postgres, listens until shutdown for the revisions other replicas announce and wakes
    /// this process's feed readers at once (they also look every two seconds, in case a
    /// notification is lost while the connection is re-established).
    pub async fn follow_other_replicas(&self, mut shutdown: watch::Receiver<bool>) {
        let Some(url) = self.listen_url.clone() else {
            return;
        };
        let mut backoff =
            weft_runtime::grpc::Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        loop {
            let listener = self.listen(&url, &mut backoff);
            tokio::select! {
                result = listener => {
                    if let Err(error) = result {
                        tracing::warn!(%error, "listening for other replicas' writes failed; listening again");
                    }
                }
                _ = weft_runtime::stopped(&mut shutdown) => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = weft_runtime::stopped(&mut shutdown) => return,
            }
        }
    }
}

/// Takes the next revision inside `transaction`; must be the transaction's first statement.
async fn next_revision(transaction: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<u64> {
    let value: i64 =
        sqlx::query("UPDATE revision_counter SET value = value + 1 WHERE id = 1 RETURNING value")
            .fetch_one(&mut **transaction)
            .await?
            .try_get("value")?;
    Ok(u64::try_from(value).unwrap_or(0))
}

/// Hides a password in a database URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://weft:secret@db/weft"),
            "postgres://weft:***@db/weft"
        );
        assert_eq!(
            super::redact("postgres://weft@db/weft"),
            "postgres://weft@db/weft"
        );
        assert_eq!(super::redact("sqlite://weft.db"), "sqlite://weft.db");
    }
}

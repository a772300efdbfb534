//! The leader lease: every replica seeks it every two seconds; the holder renews it, another
//! takes it over once it has gone unrenewed for ten seconds (or at once when the holder shuts
//! down). Each change of hands raises the lease's term, and the leader's writes name the term
//! they hold, so a deposed leader that has not noticed yet changes nothing. A leader that
//! cannot reach the store steps down at once.

use std::time::Duration;

use tokio::sync::watch;

use super::BEAT;
use super::ticks;
use crate::store::Store;

/// The lease's name in the store.
pub const LEASE: &str = "leader";
/// How long the lease holds without renewal.
const LEASE_MILLIS: i64 = 10_000;

/// Whether this replica leads, and in which term.
#[derive(Clone)]
pub struct Leadership {
    holder: String,
    term: watch::Receiver<Option<u64>>,
}

impl Leadership {
    /// Seeks the lease as `holder` until shutdown, then gives it up.
    pub fn start(
        store: Store,
        holder: String,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
        mut shutdown: watch::Receiver<bool>,
    ) -> (Leadership, tokio::task::JoinHandle<()>) {
        let (sender, term) = watch::channel(None);
        let leadership = Leadership {
            holder: holder.clone(),
            term,
        };
        let task = tokio::spawn(async move {
            let mut tick = ticks(BEAT);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = weft_runtime::stopped(&mut shutdown) => break,
                }
                let attempt = tokio::time::timeout(
                    Duration::from_millis(LEASE_MILLIS as u64 / 2),
                    store.acquire_lease(LEASE, &holder, LEASE_MILLIS),
                )
                .await;
                let now = match attempt {
                    Ok(Ok(term)) => term,
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "cannot reach the store to hold the leader lease");
                        None
                    }
                    Err(_) => {
                        tracing::warn!("the store did not answer in time; not leading");
                        None
                    }
                };
                let before = *sender.borrow();
                if before != now {
                    match now {
                        Some(term) => tracing::info!(term, "this replica leads now"),
                        None => tracing::info!("this replica no longer leads"),
                    }
                    metrics.leader.set(i64::from(now.is_some()));
                    sender.send_replace(now);
                }
            }
            if sender.borrow().is_some() {
                metrics.leader.set(0);
                sender.send_replace(None);
                if let Err(error) = store.release_lease(LEASE, &holder).await {
                    tracing::warn!(%error, "could not give the leader lease up");
                }
            }
        });
        (leadership, task)
    }

    /// A leadership that never changes: for a process that is the only one acting (tests,
    /// tools), `Some(term)` leads, `None` never does.
    pub fn fixed(term: Option<u64>) -> Leadership {
        let (_, receiver) = watch::channel(term);
        Leadership {
            holder: "fixed".to_string(),
            term: receiver,
        }
    }

    /// The term this replica leads in, if it leads.
    pub fn term(&self) -> Option<u64> {
        *self.term.borrow()
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }
}

//! Live graph streams share their work: one feed per (mesh, window) computes the graph once a
//! second and hands the same encoded snapshot to every stream watching it; a feed stops when
//! its last stream goes. Each user may hold a bounded number of streams at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::AppState;
use super::inventory::instances;
use crate::error::{Error, Result};
use crate::traffic::build_graph;

/// Live graph streams one user may hold at once (browser tabs, dashboards).
pub const MAX_STREAMS_PER_USER: usize = 8;
/// Live graph streams of all users together.
pub const MAX_STREAMS: usize = 2_000;

/// The latest encoded graph of a feed (`None` until the first one).
pub type Snapshot = Option<Arc<String>>;

#[derive(Default)]
pub struct GraphHub {
    feeds: Mutex<HashMap<(String, u64), watch::Sender<Snapshot>>>,
    streams: Mutex<HashMap<String, usize>>,
}

/// A user's place among the open streams, given back when dropped.
pub struct StreamSlot {
    hub: Arc<GraphHub>,
    user: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = lock(&self.hub.streams);
        if let Some(count) = streams.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                streams.remove(&self.user);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_second() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0)
}

impl GraphHub {
    /// A slot for one more stream of `user`; 429 when the user or everyone holds too many.
    pub fn admit(self: &Arc<Self>, user: &str) -> Result<StreamSlot> {
        let mut streams = lock(&self.streams);
        let total: usize = streams.values().sum();
        let mine = streams.get(user).copied().unwrap_or(0);
        if mine >= MAX_STREAMS_PER_USER || total >= MAX_STREAMS {
            return Err(Error::TooManyRequests(Duration::from_secs(5)));
        }
        *streams.entry(user.to_string()).or_insert(0) += 1;
        Ok(StreamSlot {
            hub: self.clone(),
            user: user.to_string(),
        })
    }

    /// Streams open now, for tests and metrics.
    pub fn open_streams(&self) -> usize {
        lock(&self.streams).values().sum()
    }

    /// Feeds running now.
    pub fn feeds(&self) -> usize {
        lock(&self.feeds).len()
    }

    /// Watches the feed of (`mesh`, `window`), starting it when nobody watched it.
    pub fn watch(
        self: &Arc<Self>,
        state: &AppState,
        mesh: &str,
        window: u64,
    ) -> watch::Receiver<Snapshot> {
        let key = (mesh.to_string(), window);
        let mut feeds = lock(&self.feeds);
        if let Some(feed) = feeds.get(&key) {
            return feed.subscribe();
        }
        let (sender, receiver) = watch::channel(None);
        feeds.insert(key.clone(), sender.clone());
        tokio::spawn(feed(self.clone(), state.clone(), key, sender));
        receiver
    }
}

/// Computes the graph of one (mesh, window) every second while anyone watches.
async fn feed(
    hub: Arc<GraphHub>,
    state: AppState,
    key: (String, u64),
    sender: watch::Sender<Snapshot>,
) {
    let (mesh, window) = &key;
    let mut revisions = state.store.subscribe();
    let mut shutdown = state.shutdown.clone();
    let mut cached = instances(&state, mesh).await.unwrap_or_default();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
        {
            // Checked under the lock, so a stream arriving now either finds this feed
            // running or starts a new one.
            let mut feeds = lock(&hub.feeds);
            if sender.receiver_count() == 0 {
                feeds.remove(&key);
                return;
            }
        }
        if revisions.has_changed().unwrap_or(false) {
            revisions.borrow_and_update();
            match instances(&state, mesh).await {
                Ok(fresh) => cached = fresh,
                Err(error) => tracing::warn!(%error, "graph feed could not reload instances"),
            }
        }
        let traffic = state.traffic.window(mesh, now_second(), *window);
        let graph = build_graph(
            mesh,
            *window,
            jiff::Timestamp::now().to_string(),
            &cached,
            &traffic,
            state.thresholds,
        );
        match serde_json::to_string(&graph) {
            Ok(encoded) => {
                sender.send_replace(Some(Arc::new(encoded)));
            }
            Err(error) => tracing::error!(%error, "encoding the graph failed"),
        }
    }
    lock(&hub.feeds).remove(&key);
}

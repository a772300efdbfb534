//! Group commit of proxy registrations: every hello's Dataplane goes through one task, which
//! writes whatever has queued up meanwhile in one store transaction and applies it to the
//! zone's state as one change. A thousand proxies joining at once (a zone restart, a new
//! deployment) cost a few commits and a few configuration rounds, not a thousand of each.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use weft_model::Resource;

use crate::error::Error;
use crate::state::ZoneState;
use crate::store::ZoneStore;

/// Registrations written in one transaction at most.
const BATCH: usize = 512;
/// Registrations waiting for the writer at most; a hello beyond waits for room.
const QUEUE: usize = 4096;

type Request = (Resource, oneshot::Sender<Result<(), String>>);

#[derive(Clone)]
pub struct Registrations {
    sender: mpsc::Sender<Request>,
}

impl Registrations {
    /// Starts the writer; it stops when every handle is dropped.
    pub fn start(
        store: ZoneStore,
        state: Arc<ZoneState>,
        local_changes: Arc<watch::Sender<u64>>,
    ) -> Registrations {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write(receiver, store, state, local_changes));
        Registrations { sender }
    }

    /// Stores `resource` and puts it in the zone's state; returns once both are done.
    pub async fn register(&self, resource: Resource) -> Result<(), Error> {
        let (done, answer) = oneshot::channel();
        self.sender
            .send((resource, done))
            .await
            .map_err(|_| Error::Internal("the registration writer stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Internal("the registration writer stopped".into()))?
            .map_err(Error::Internal)
    }
}

async fn write(
    mut receiver: mpsc::Receiver<Request>,
    store: ZoneStore,
    state: Arc<ZoneState>,
    local_changes: Arc<watch::Sender<u64>>,
) {
    let mut batch: Vec<Request> = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let (resources, answers): (Vec<Resource>, Vec<_>) = batch.drain(..).unzip();
        let outcome = store.put_locals(&resources).await;
        let outcome = match outcome {
            Ok(_) => {
                state.put_locals(resources);
                local_changes.send_modify(|tick| *tick += 1);
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, registrations = answers.len(), "storing registrations failed");
                Err(error.to_string())
            }
        };
        for answer in answers {
            let _ = answer.send(outcome.clone());
        }
    }
}

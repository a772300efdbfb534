//! Global's public signing keys and revoked token ids, received over the sync stream and kept
//! in the zone store: the zone checks dataplane tokens with them, also while global is away.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use weft_identity::{TrustedKey, Verifier};

use crate::store::ZoneStore;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    keys: Vec<TrustedKey>,
    revoked: Vec<String>,
}

#[derive(Default)]
pub struct Credentials {
    current: RwLock<(Stored, Arc<Verifier>)>,
}

impl Credentials {
    /// What the store holds (nothing before the first connection to global).
    pub async fn load(store: &ZoneStore) -> crate::error::Result<Credentials> {
        let credentials = Credentials::default();
        if let Some(json) = store.credentials().await?
            && let Ok(stored) = serde_json::from_str::<Stored>(&json)
        {
            credentials.replace(stored);
        }
        Ok(credentials)
    }

    /// Takes what global sent; stored first so a restart while global is away keeps it.
    pub async fn update(
        &self,
        store: &ZoneStore,
        keys: Vec<TrustedKey>,
        revoked: Vec<String>,
    ) -> crate::error::Result<()> {
        let stored = Stored { keys, revoked };
        if self.read().0 == stored {
            return Ok(());
        }
        let json = serde_json::to_string(&stored)
            .map_err(|error| crate::error::Error::Internal(error.to_string()))?;
        store.set_credentials(&json).await?;
        tracing::info!(
            keys = stored.keys.len(),
            revoked = stored.revoked.len(),
            "token keys from global updated"
        );
        self.replace(stored);
        Ok(())
    }

    fn replace(&self, stored: Stored) {
        let (verifier, problems) = Verifier::new(&stored.keys, stored.revoked.iter().cloned());
        for problem in problems {
            tracing::warn!(%problem, "unusable token key from global");
        }
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = (stored, Arc::new(verifier));
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (Stored, Arc<Verifier>)> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn verifier(&self) -> Arc<Verifier> {
        self.read().1.clone()
    }
}

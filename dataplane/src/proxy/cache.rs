//! State that outlives config versions: a new version reuses what an older one built with the
//! same settings (retry budgets, request limits, rate-limit buckets), so counters and tokens
//! carry over; entries no version uses any more are dropped after each apply.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

pub struct Cache<K, V> {
    known: Mutex<HashMap<K, Arc<V>>>,
}

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Cache {
            known: Mutex::default(),
        }
    }
}

impl<K: Eq + Hash, V> Cache<K, V> {
    pub fn get(&self, key: K, make: impl FnOnce() -> V) -> Arc<V> {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key)
            .or_insert_with(|| Arc::new(make()))
            .clone()
    }

    /// Like [`Cache::get`], for values whose making can fail (nothing is kept then).
    pub fn try_get<E>(&self, key: K, make: impl FnOnce() -> Result<V, E>) -> Result<Arc<V>, E> {
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(value) = known.get(&key) {
            return Ok(value.clone());
        }
        let value = Arc::new(make()?);
        known.insert(key, value.clone());
        Ok(value)
    }

    pub fn retain_used(&self) {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|_, value| Arc::strong_count(value) > 1);
    }
}

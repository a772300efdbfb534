//! Bounds on login attempts, so guessing passwords and floods of logins cannot exhaust CPU or
//! memory: a rate per client address and per user name (429 with `retry-after`), and password
//! hashing on a small, fixed pool of threads with a bounded queue in front of it.
//!
//! A fixed pool, not the runtime's blocking threads: each argon2 hash takes about 19 MiB, and
//! the allocator keeps that memory per thread, so hashing on ever-new threads grew the
//! process by 19 MiB per login under a flood. A few long-lived threads keep it at a few hashes'
//! worth.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::oneshot;

/// At most this many addresses and user names are tracked; past it, stale ones are dropped,
/// and if none are stale new ones are refused until some are.
const MAX_TRACKED: usize = 100_000;

type Job = Box<dyn FnOnce() + Send>;

pub struct LoginGuard {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_user: DefaultKeyedRateLimiter<String>,
    /// Jobs for the hashing threads; full means too many waiting.
    jobs: std::sync::mpsc::SyncSender<Job>,
    /// Jobs queued or running, for tests and metrics.
    busy: Arc<AtomicUsize>,
    clock: DefaultClock,
}

/// Why an attempt was turned away.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too many attempts: try again after this long.
    TooMany(Duration),
}

impl From<Refusal> for crate::error::Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::TooMany(wait) => crate::error::Error::TooManyRequests(wait),
        }
    }
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl Default for LoginGuard {
    /// 30 attempts a minute per address, 10 per user name, as many hashes at once as there
    /// are cores, and 32 attempts waiting for one.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        LoginGuard::new(30, 10, cores, 32)
    }
}

impl LoginGuard {
    pub fn new(
        per_address_per_minute: u32,
        per_user_per_minute: u32,
        concurrent_hashes: usize,
        max_waiting: usize,
    ) -> LoginGuard {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(max_waiting);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for number in 0..concurrent_hashes.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{number}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match queue.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
        LoginGuard {
            per_address: RateLimiter::keyed(quota(per_address_per_minute)),
            per_user: RateLimiter::keyed(quota(per_user_per_minute)),
            jobs,
            busy: Arc::new(AtomicUsize::new(0)),
            clock: DefaultClock::default(),
        }
    }

    fn keep_bounded(&self) -> bool {
        if self.per_address.len() + self.per_user.len() < MAX_TRACKED {
            return true;
        }
        self.per_address.retain_recent();
        self.per_user.retain_recent();
        self.per_address.shrink_to_fit();
        self.per_user.shrink_to_fit();
        self.per_address.len() + self.per_user.len() < MAX_TRACKED
    }

    /// Counts an attempt from `address` for `user`; refused when either is over its rate.
    /// User names are counted whether or not they exist, so a 429 says nothing about that.
    pub fn attempt(&self, address: Option<IpAddr>, user: &str) -> Result<(), Refusal> {
        if !self.keep_bounded() {
            return Err(Refusal::TooMany(Duration::from_secs(60)));
        }
        let now = self.clock.now();
        if let Some(address) = address {
            self.per_address
                .check_key(&address)
                .map_err(|until| Refusal::TooMany(until.wait_time_from(now)))?;
        }
        let key: String = user.chars().take(64).collect();
        self.per_user
            .check_key(&key)
            .map_err(|until| Refusal::TooMany(until.wait_time_from(now)))?;
        Ok(())
    }

    /// Runs `work` (a password hash or check) on the hashing threads; refused at once when
    /// too many are waiting.
    pub async fn hash<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refusal> {
        let (reply, answer) = oneshot::channel();
        let busy = self.busy.clone();
        busy.fetch_add(1, Ordering::SeqCst);
        let job: Job = Box::new(move || {
            let _ = reply.send(work());
            busy.fetch_sub(1, Ordering::SeqCst);
        });
        if self.jobs.try_send(job).is_err() {
            self.busy.fetch_sub(1, Ordering::SeqCst);
            return Err(Refusal::TooMany(Duration::from_secs(1)));
        }
        answer
            .await
            .map_err(|_| Refusal::TooMany(Duration::from_secs(1)))
    }

    /// Forgets addresses and names not seen lately (run now and then).
    pub fn forget_stale(&self) {
        self.per_address.retain_recent();
        self.per_user.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_per_address_and_per_user() {
        let guard = LoginGuard::new(2, 2, 1, 1);
        let here = Some(IpAddr::from([10, 0, 0, 1]));
        let there = Some(IpAddr::from([10, 0, 0, 2]));
        assert!(guard.attempt(here, "alice").is_ok());
        assert!(guard.attempt(here, "alice").is_ok());
        // alice is out of attempts from anywhere; bob is not, until the address is.
        assert!(matches!(
            guard.attempt(there, "alice"),
            Err(Refusal::TooMany(wait)) if wait > Duration::ZERO
        ));
        assert!(guard.attempt(here, "bob").is_err(), "third from here");
        assert!(guard.attempt(there, "bob").is_ok());
    }

    #[tokio::test]
    async fn hashing_runs_on_the_pool_with_a_bounded_queue() {
        let guard = Arc::new(LoginGuard::new(100, 100, 1, 1));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started, running_now) = std::sync::mpsc::channel::<()>();
        // One job runs (and waits), one waits in the queue, a third is turned away.
        let running = {
            let guard = guard.clone();
            tokio::spawn(async move {
                guard
                    .hash(move || {
                        let _ = started.send(());
                        hold.recv().is_ok()
                    })
                    .await
            })
        };
        while running_now.try_recv().is_err() {
            tokio::task::yield_now().await;
        }
        let queued = {
            let guard = guard.clone();
            tokio::spawn(async move { guard.hash(|| 7).await })
        };
        while guard.busy.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        assert!(guard.hash(|| 0).await.is_err());
        release.send(()).unwrap();
        assert_eq!(running.await.unwrap(), Ok(true));
        assert_eq!(queued.await.unwrap(), Ok(7));
        // The thread runs on the pool, not on the caller's.
        let name = guard
            .hash(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("password-hash-0"));
    }
}

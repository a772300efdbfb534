//! A steady load for tests that must show "zero failed requests": `rps` GETs per second,
//! paced on a fixed schedule from a few threads, each answer's status recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const THREADS: usize = 8;

pub struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<Outcome>>,
}

/// What the load saw: requests sent, and every one that did not get a 200.
#[derive(Debug, Default)]
pub struct Outcome {
    pub sent: usize,
    /// (status or 0 when nothing answered, body or error), at most 20 kept.
    pub failures: Vec<(u16, String)>,
    pub failed: usize,
}

impl Load {
    pub fn start(url: &str, rps: f64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let interval = Duration::from_secs_f64(THREADS as f64 / rps);
        let threads = (0..THREADS)
            .map(|index| {
                let (url, stop, answered) = (url.to_string(), stop.clone(), answered.clone());
                std::thread::spawn(move || {
                    let agent = crate::api::agent();
                    let mut outcome = Outcome::default();
                    // Threads start spread over one interval.
                    let mut next = Instant::now() + interval.mul_f64(index as f64 / THREADS as f64);
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(wait) = next.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        next += interval;
                        outcome.sent += 1;
                        let failure = match agent.get(&url).call() {
                            Ok(mut response) if response.status() == 200 => {
                                let _ = response.body_mut().read_to_vec();
                                None
                            }
                            Ok(mut response) => Some((
                                response.status().as_u16(),
                                response.body_mut().read_to_string().unwrap_or_default(),
                            )),
                            Err(error) => Some((0, error.to_string())),
                        };
                        answered.fetch_add(1, Ordering::Relaxed);
                        if let Some(failure) = failure {
                            outcome.failed += 1;
                            if outcome.failures.len() < 20 {
                                outcome.failures.push(failure);
                            }
                        }
                    }
                    outcome
                })
            })
            .collect();
        Load {
            stop,
            answered,
            threads,
        }
    }

    /// Requests answered (or failed) so far.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::Relaxed)
    }

    /// Waits until `count` more requests were answered than when called.
    pub fn wait_for_more(&self, count: usize) {
        let target = self.answered() + count;
        crate::wait_until(
            &format!("{count} more requests"),
            std::time::Duration::from_secs(60),
            || (self.answered() >= target).then_some(()),
        );
    }

    /// Stops the load and sums what every thread saw.
    pub fn stop(self) -> Outcome {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Outcome::default();
        for thread in self.threads {
            let outcome = thread.join().expect("a load thread panicked");
            total.sent += outcome.sent;
            total.failed += outcome.failed;
            total.failures.extend(outcome.failures);
        }
        total
    }
}

//! Test support shared by the store suite and the end-to-end tests.
//!
//! Nothing here sleeps to wait for a condition: [`wait_until`] polls with a deadline.

pub mod postgres;

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// A loopback port nobody listens on right now (the OS will not hand it out again soon).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address: SocketAddr| address.port())
        .expect("no free loopback port")
}

/// Polls `condition` every 20 ms until it returns `Some`, or panics naming `what` at the deadline.
pub fn wait_until<T>(
    what: &str,
    deadline: Duration,
    mut condition: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

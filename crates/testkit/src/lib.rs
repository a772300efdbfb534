//! Test support shared by the store suite and the end-to-end tests.
//!
//! Nothing here sleeps to wait for a condition: [`wait_until`] polls with a deadline.

pub mod postgres;

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// Ports handed out come from here: below Linux's ephemeral range (32768-60999), so no
/// outgoing connection of any process can take a port between being handed out and bound.
const PORT_RANGE: std::ops::Range<u16> = 10_000..32_000;

static NEXT_PORT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A loopback port nobody listens on, never handed out twice by this process.
pub fn free_port() -> u16 {
    use std::sync::atomic::Ordering;
    let span = u32::from(PORT_RANGE.end - PORT_RANGE.start);
    // Start each process somewhere else in the range, so concurrent test processes rarely meet.
    let _ = NEXT_PORT.compare_exchange(
        0,
        1 + std::process::id().wrapping_mul(7919) % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let offset = NEXT_PORT.fetch_add(1, Ordering::SeqCst) % span;
        let port = PORT_RANGE.start + u16::try_from(offset).unwrap_or(0);
        let available: Result<SocketAddr, _> =
            TcpListener::bind(("127.0.0.1", port)).and_then(|listener| listener.local_addr());
        if available.is_ok() {
            return port;
        }
    }
    panic!(
        "no free loopback port between {} and {}",
        PORT_RANGE.start, PORT_RANGE.end
    )
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

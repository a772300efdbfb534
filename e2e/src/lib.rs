//! Starting Weft's processes for tests and the demo: the binaries, their readiness, their
//! logs, and the shop topology (global, zones east and west, services behind proxies).
//!
//! Every wait polls a condition with a deadline; every process is stopped when its handle drops.

pub mod api;
pub mod certificates;
pub mod fleet;
pub mod load;
pub mod process;
pub mod shop;
pub mod topology;

pub use weft_testkit::{free_port, wait_until};

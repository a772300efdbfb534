//! Live traffic: a rolling window of per-edge counters at one-second resolution, per mesh,
//! fed by zone telemetry, and the graph built from it. Nothing here needs Prometheus.

mod graph;
pub mod health;
pub mod insights;
pub mod window;

pub use graph::{Instances, Thresholds, build_graph};
pub use health::HealthBoard;
pub use insights::InsightBoard;
pub use window::TrafficWindow;

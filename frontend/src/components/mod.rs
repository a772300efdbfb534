pub mod chart;
pub mod error;
pub mod graph;
pub mod shell;

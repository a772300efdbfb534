//! Wire contracts of Weft: REST request and response bodies, error codes, telemetry counters,
//! and, behind the `grpc` feature, the protobuf services between global, zones and proxies.
//!
//! Without `grpc` this crate has no async or network dependency, so the console uses it on wasm32.

pub mod audit;
pub mod auth;
pub mod error;
pub mod graph;
pub mod graphql;
pub mod inventory;
pub mod rollouts;
pub mod telemetry;
pub mod tokens;
pub mod users;

#[cfg(feature = "grpc")]
pub mod proto {
    //! Generated protobuf types and tonic services (`weft.v1`).
    #![allow(clippy::all, missing_docs, unreachable_pub)]
    tonic::include_proto!("weft.v1");
}

#[cfg(feature = "grpc")]
pub mod sync;

pub use weft_model as model;

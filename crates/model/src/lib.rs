//! The Weft resource model: manifests, kinds, validation with field paths, and the
//! pure function from a dataplane plus its mesh's resources to that proxy's configuration.
//!
//! This crate knows nothing about HTTP, SQL, protobuf or async runtimes, and builds for wasm32.

pub mod canary;
pub mod check;
pub mod dataplane;
pub mod duration;
pub mod effective;
pub mod error;
pub mod kind;
pub mod manifest;
pub mod mesh;
pub mod name;
pub mod policy;
pub mod proxy;
pub mod resource;
pub mod rollout;
pub mod selector;
pub mod target;
pub mod tenant;
pub mod traffic_permission;
pub mod traffic_route;
mod value_decoder;
pub mod zone;

pub use error::{FieldError, ValidationErrors};
pub use kind::Kind;
pub use manifest::{API_VERSION, Manifest, Metadata};
pub use resource::{Resource, Spec};

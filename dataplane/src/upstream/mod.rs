//! Upstream endpoints, the clients that reach them, and sending one request.

pub mod endpoint;
pub mod forward;
pub mod io;
pub mod pool;

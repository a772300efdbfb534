//! Authentication: password login for users, Ed25519-signed JWTs for every API call.

pub mod guard;
mod password;
mod tokens;

pub use password::{hash_password, verify_password};
pub use tokens::{Authority, Claims, Verified, rfc3339};

/// A password or other secret that never prints.
#[derive(Clone, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Secret(value.to_string()))
    }
}

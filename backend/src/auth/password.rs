//! Password hashing with argon2id.
//!
//! Each hash needs its memory cost (19 MiB by default) of working memory. The argon2 crate
//! allocates it afresh per hash, and the allocator did not hand it back: a process that
//! checked many passwords grew by about 19 MiB per check. Here every thread keeps one buffer and
//! reuses it, and hashing runs on a few fixed threads ([`super::guard`]), so the memory is
//! bounded by the number of hashing threads.

use std::cell::RefCell;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::{Error, Result};

/// Hashes stored here never ask for more memory than this (64 MiB).
const MAX_MEMORY_KIB: u32 = 64 * 1024;

thread_local! {
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2id with `params` into `out`, with this thread's reused working memory.
fn hash_into(
    params: &Params,
    version: Version,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> std::result::Result<(), argon2::Error> {
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params.clone());
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < params.block_count() {
            memory.resize(params.block_count(), Block::default());
        }
        argon2.hash_password_into_with_memory(
            password,
            salt,
            out,
            &mut memory[..params.block_count()],
        )
    })
}

pub fn hash_password(password: &str) -> Result<String> {
    let failed = |error: String| Error::Internal(format!("password hashing failed: {error}"));
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|error| failed(error.to_string()))?;
    let params = Params::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    hash_into(
        &params,
        Version::V0x13,
        password.as_bytes(),
        salt_raw,
        &mut out,
    )
    .map_err(|error| failed(error.to_string()))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params)
            .try_into()
            .map_err(|error: argon2::password_hash::Error| failed(error.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|error| failed(error.to_string()))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches `hash` (an argon2id PHC string).
fn matches(password: &str, hash: &str) -> Option<bool> {
    let parsed = PasswordHash::new(hash).ok()?;
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return None;
    }
    let params = Params::try_from(&parsed).ok()?;
    if params.m_cost() > MAX_MEMORY_KIB {
        return None;
    }
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .ok()?
        .unwrap_or_default();
    let expected = parsed.hash?;
    let mut salt_bytes = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt_bytes).ok()?;
    let mut out = vec![0u8; expected.len()];
    hash_into(&params, version, password.as_bytes(), salt, &mut out).ok()?;
    // `Output` compares in constant time.
    Some(Output::new(&out).ok()? == expected)
}

/// Constant work whether or not `hash` is well formed, so timing does not reveal unknown users.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    // A valid hash of a random password, checked when the user does not exist.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2lZ0x3bWv0oFN0x8Y3lP5b2d2mX0v6w8GkqQ9eQW1dA";
    match hash.and_then(|hash| matches(password, hash)) {
        Some(matched) => matched,
        None => {
            let _ = matches(password, DUMMY);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[test]
    fn round_trip() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("wrong", Some(&hash)));
        assert!(!verify_password("correct horse", None));
        assert!(!verify_password("correct horse", Some("not a hash")));
    }

    #[test]
    fn hashes_are_standard_argon2id() {
        // What we write, the argon2 crate's own verifier accepts, and the other way round.
        let ours = hash_password("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        let theirs = {
            use argon2::PasswordHasher;
            Argon2::default()
                .hash_password(b"staple", &SaltString::generate(&mut OsRng))
                .unwrap()
                .to_string()
        };
        assert!(verify_password("staple", Some(&theirs)));
    }

    #[test]
    fn the_dummy_costs_a_real_hash() {
        // The unknown-user path must run a full hash, like a known user's check does.
        const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2lZ0x3bWv0oFN0x8Y3lP5b2d2mX0v6w8GkqQ9eQW1dA";
        assert_eq!(matches("anything", DUMMY), Some(false));
    }
}

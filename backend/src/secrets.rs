//! Encryption at rest for secrets in the store (the mesh CAs' private keys), with a key kept
//! in a file outside the store: a copy of the database alone reveals no key.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::error::{Error, Result};

pub struct Secrets {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(***)")
    }
}

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

impl Secrets {
    /// Reads the key file, or creates it (0600) with a new random key.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Secrets> {
        use anyhow::Context;
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; KEY_BYTES] = rand::random();
                let hex: String = key.iter().map(|byte| format!("{byte:02x}")).collect();
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let mut file = {
                    use std::os::unix::fs::OpenOptionsExt;
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(path)
                        .with_context(|| {
                            format!("cannot create the secrets key file {}", path.display())
                        })?
                };
                writeln!(file, "{hex}")?;
                tracing::info!(path = %path.display(), "created a new secrets key file");
                hex
            }
            Err(error) => {
                return Err(error).with_context(|| {
                    format!("cannot read the secrets key file {}", path.display())
                });
            }
        };
        let hex = text.trim();
        let key: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            })
            .collect::<Option<_>>()
            .filter(|key: &Vec<u8>| key.len() == KEY_BYTES)
            .with_context(|| {
                format!(
                    "the secrets key file {} must hold 64 hex digits",
                    path.display()
                )
            })?;
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(metadata) = std::fs::metadata(path)
                && metadata.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(path = %path.display(), "the secrets key file is readable by others; chmod 600 it");
            }
        }
        Ok(Secrets {
            cipher: XChaCha20Poly1305::new_from_slice(&key)
                .map_err(|_| anyhow::anyhow!("secrets key of the wrong size"))?,
        })
    }

    #[cfg(test)]
    pub fn for_tests() -> Secrets {
        Secrets {
            cipher: XChaCha20Poly1305::new_from_slice(&[7u8; KEY_BYTES]).expect("key size"),
        }
    }

    /// Encrypts `plaintext`: base64 of nonce and ciphertext.
    pub fn seal(&self, plaintext: &str) -> Result<String> {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let ciphertext = self
            .cipher
            .encrypt(&XNonce::from(nonce), plaintext.as_bytes())
            .map_err(|_| Error::Internal("encrypting a secret failed".into()))?;
        let mut sealed = nonce.to_vec();
        sealed.extend(ciphertext);
        Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    pub fn open(&self, sealed: &str) -> Result<String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| Error::Internal("a stored secret is not base64".into()))?;
        if bytes.len() <= NONCE_BYTES {
            return Err(Error::Internal("a stored secret is too short".into()));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce
            .try_into()
            .map_err(|_| Error::Internal("a stored secret is too short".into()))?;
        let plaintext = self
            .cipher
            .decrypt(&XNonce::from(nonce), ciphertext)
            .map_err(|_| {
                Error::Internal("a stored secret does not decrypt: is --secrets-key-file the one it was made with?".into())
            })?;
        String::from_utf8(plaintext)
            .map_err(|_| Error::Internal("a stored secret is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let secrets = Secrets::for_tests();
        let sealed = secrets.seal("private key").unwrap();
        assert!(!sealed.contains("private"));
        assert_eq!(secrets.open(&sealed).unwrap(), "private key");
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("secrets.key");
        let created = Secrets::load_or_create(&path).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(created.open(&sealed).is_err(), "another key opens nothing");
        let again = Secrets::load_or_create(&path).unwrap();
        assert_eq!(again.open(&created.seal("x").unwrap()).unwrap(), "x");
    }
}

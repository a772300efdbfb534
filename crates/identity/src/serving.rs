//! The certificates a control plane serves its gRPC port with. Either the operator provides a
//! certificate and key (`--tls-cert-file`, `--tls-key-file`), or the control plane keeps its
//! own small CA in its data directory: `ca.pem` is what the other side trusts (a zone's
//! `--global-ca-file`, a proxy's `--zone-ca-file`), `ca.key` never leaves the directory, and the
//! serving certificate is made again when it nears its end or the names it must carry change.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::ca::{self, CertError};

const DAY: Duration = Duration::from_secs(86_400);
/// The local CA lasts ten years; the serving certificate one, made again with 30 days left.
const CA_LIFETIME: Duration = Duration::from_secs(3650 * 86_400);
const SERVING_LIFETIME: Duration = Duration::from_secs(365 * 86_400);
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 86_400);

/// A serving certificate chain and its key, PEM.
#[derive(Clone)]
pub struct ServingTls {
    pub certificate_pem: String,
    pub key_pem: String,
    /// The CA file clients trust, when the control plane made its own.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Certificate { path: PathBuf, source: CertError },
    #[error("{0}")]
    Invalid(String),
}

fn read(path: &Path) -> Result<String, ServingError> {
    std::fs::read_to_string(path).map_err(|source| ServingError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, text: &str, private: bool) -> Result<(), ServingError> {
    let io = |source| ServingError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    std::io::Write::write_all(&mut options.open(path).map_err(io)?, text.as_bytes()).map_err(io)
}

/// The operator's certificate chain and key, checked to be readable and to belong together.
pub fn from_files(certificate: &Path, key: &Path) -> Result<ServingTls, ServingError> {
    let certificate_pem = read(certificate)?;
    let key_pem = read(key)?;
    ca::first_der(&certificate_pem).map_err(|source| ServingError::Certificate {
        path: certificate.to_path_buf(),
        source,
    })?;
    KeyPair::from_pem(&key_pem).map_err(|error| ServingError::Certificate {
        path: key.to_path_buf(),
        source: CertError::Crypto(error.to_string()),
    })?;
    Ok(ServingTls {
        certificate_pem,
        key_pem,
        ca_file: None,
    })
}

/// The names a serving certificate carries by default: loopback, and this machine's name.
pub fn default_names() -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() && !names.iter().any(|name| name == host) {
            names.push(host.to_string());
        }
    }
    names
}

fn san(name: &str) -> Result<SanType, ServingError> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let label = |label: &str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let invalid = || ServingError::Invalid(format!("{name:?} is not a DNS name or IP address"));
    if name.len() > 253 || !name.split('.').all(label) {
        return Err(invalid());
    }
    name.to_ascii_lowercase()
        .try_into()
        .map(SanType::DnsName)
        .map_err(|_| invalid())
}

/// The CA and serving certificate kept in `dir` (made when missing, expiring or naming other
/// names than `names`).
pub fn load_or_create(
    dir: &Path,
    purpose: &str,
    names: &[String],
) -> Result<ServingTls, ServingError> {
    std::fs::create_dir_all(dir).map_err(|source| ServingError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let (ca_file, ca_key_file) = (dir.join("ca.pem"), dir.join("ca.key"));
    let (cert_file, key_file) = (dir.join("server.pem"), dir.join("server.key"));
    if !ca_file.exists() || !ca_key_file.exists() {
        let key = KeyPair::generate().map_err(crypto)?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("weft {purpose} CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params, CA_LIFETIME);
        let certificate = params.self_signed(&key).map_err(crypto)?;
        write(&ca_key_file, &key.serialize_pem(), true)?;
        write(&ca_file, &certificate.pem(), false)?;
        // A new CA makes any old serving certificate useless.
        let _ = std::fs::remove_file(&cert_file);
    }
    let ca_pem = read(&ca_file)?;
    let current = if cert_file.exists() && key_file.exists() {
        let pem = read(&cert_file)?;
        usable(&pem, names).then_some(pem)
    } else {
        None
    };
    let certificate_pem = match current {
        Some(pem) => pem,
        None => {
            let ca_key = KeyPair::from_pem(&read(&ca_key_file)?).map_err(crypto)?;
            let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).map_err(crypto)?;
            let key = KeyPair::generate().map_err(crypto)?;
            let mut params = CertificateParams::default();
            params
                .distinguished_name
                .push(DnType::CommonName, format!("weft {purpose}"));
            params.subject_alt_names = names
                .iter()
                .map(|name| san(name))
                .collect::<Result<_, _>>()?;
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.use_authority_key_identifier_extension = true;
            validity(&mut params, SERVING_LIFETIME);
            let certificate = params.signed_by(&key, &issuer).map_err(crypto)?;
            write(&key_file, &key.serialize_pem(), true)?;
            let chain = format!("{}{ca_pem}", certificate.pem());
            write(&cert_file, &chain, false)?;
            chain
        }
    };
    Ok(ServingTls {
        certificate_pem,
        key_pem: read(&key_file)?,
        ca_file: Some(ca_file),
    })
}

fn crypto(error: rcgen::Error) -> ServingError {
    ServingError::Invalid(error.to_string())
}

fn validity(params: &mut CertificateParams, lifetime: Duration) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::seconds(ca::CLOCK_SLACK.as_secs() as i64);
    params.not_after = now + time::Duration::seconds(lifetime.as_secs() as i64);
}

/// Whether a stored serving certificate is good for a while yet and names exactly `names`.
fn usable(pem: &str, names: &[String]) -> bool {
    let Ok(der) = ca::first_der(pem) else {
        return false;
    };
    let Ok(not_after) = ca::not_after(&der) else {
        return false;
    };
    if not_after < SystemTime::now() + RENEW_BEFORE.max(DAY) {
        return false;
    }
    let Ok((_, certificate)) = x509_parser::parse_x509_certificate(&der) else {
        return false;
    };
    let Ok(Some(sans)) = certificate.subject_alternative_name() else {
        return false;
    };
    let mut have: Vec<String> = sans
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            x509_parser::extensions::GeneralName::DNSName(dns) => Some(dns.to_string()),
            x509_parser::extensions::GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(|b| IpAddr::from(b).to_string()),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| IpAddr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let mut want: Vec<String> = names
        .iter()
        .map(|name| {
            name.parse::<IpAddr>()
                .map_or_else(|_| name.clone(), |ip| ip.to_string())
        })
        .collect();
    have.sort();
    want.sort();
    have == want
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_kept_and_made_again_when_the_names_change() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let first = load_or_create(dir.path(), "global", &names).unwrap();
        let ca_file = first.ca_file.clone().unwrap();
        assert!(first.certificate_pem.contains(&read(&ca_file).unwrap()));
        let mode = std::fs::metadata(dir.path().join("ca.key")).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
        let again = load_or_create(dir.path(), "global", &names).unwrap();
        assert_eq!(again.certificate_pem, first.certificate_pem);
        let more = vec!["global.example".to_string(), "127.0.0.1".to_string()];
        let renamed = load_or_create(dir.path(), "global", &more).unwrap();
        assert_ne!(renamed.certificate_pem, first.certificate_pem);
        // Same CA: clients keep trusting it.
        assert_eq!(renamed.ca_file, first.ca_file);
        assert!(renamed.certificate_pem.ends_with(&read(&ca_file).unwrap()));
        assert!(load_or_create(dir.path(), "global", &["not a name!".to_string()]).is_err());
    }

    #[test]
    fn provided_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let made = load_or_create(dir.path(), "zone", &default_names()).unwrap();
        let tls = from_files(
            &dir.path().join("server.pem"),
            &dir.path().join("server.key"),
        )
        .unwrap();
        assert_eq!(tls.certificate_pem, made.certificate_pem);
        let error = from_files(
            &dir.path().join("server.pem"),
            &dir.path().join("missing.key"),
        )
        .err()
        .unwrap();
        assert!(error.to_string().contains("missing.key"), "{error}");
        std::fs::write(dir.path().join("bad.pem"), "not pem").unwrap();
        assert!(from_files(&dir.path().join("bad.pem"), &dir.path().join("server.key")).is_err());
    }
}

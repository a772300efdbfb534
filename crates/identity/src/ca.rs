//! Certificates of a mesh: the root CA (global), intermediates (zones), leaves (proxies).
//! Every key is made where it is used: a zone and a proxy send CSRs, never keys. Issuers
//! take only the public key from a CSR and decide every other field themselves.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate or key: {0}")]
    Crypto(String),
    #[error("the certificate has {0} URI SANs; a mesh identity has exactly one")]
    UriSans(usize),
    #[error("{0:?} is not a SPIFFE id of the form spiffe://<mesh>/<service>")]
    NotSpiffe(String),
    #[error("the certificate is unreadable: {0}")]
    Unreadable(String),
    #[error("{0}")]
    Provided(String),
}

fn crypto(error: rcgen::Error) -> CertError {
    CertError::Crypto(error.to_string())
}

/// `spiffe://<mesh>/<service>`.
pub fn spiffe_id(mesh: &str, service: &str) -> String {
    format!("spiffe://{mesh}/{service}")
}

/// The mesh and service of a SPIFFE id.
pub fn parse_spiffe(uri: &str) -> Result<(String, String), CertError> {
    let rest = uri
        .strip_prefix("spiffe://")
        .ok_or_else(|| CertError::NotSpiffe(uri.to_string()))?;
    let (mesh, service) = rest
        .split_once('/')
        .ok_or_else(|| CertError::NotSpiffe(uri.to_string()))?;
    let valid = |part: &str| {
        !part.is_empty()
            && part.len() <= 63
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !(valid(mesh) && valid(service)) {
        return Err(CertError::NotSpiffe(uri.to_string()));
    }
    Ok((mesh.to_string(), service.to_string()))
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Weft");
    name.push(DnType::CommonName, common_name);
    name
}

/// Certificates start this long before they are made, for clocks that disagree.
pub const CLOCK_SLACK: Duration = Duration::from_secs(300);

fn validity(params: &mut CertificateParams, lifetime: Duration) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - CLOCK_SLACK;
    params.not_after =
        now + time::Duration::seconds(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2));
}

/// A new root CA for `mesh`: (certificate PEM, private key PEM).
pub fn new_root(mesh: &str, lifetime: Duration) -> Result<(String, String), CertError> {
    let key = KeyPair::generate().map_err(crypto)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name(&format!("weft mesh {mesh} root"));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut params, lifetime);
    let certificate = params.self_signed(&key).map_err(crypto)?;
    Ok((certificate.pem(), key.serialize_pem()))
}

/// A new key and a CSR for it: (key PEM, CSR PEM).
pub fn new_key_and_csr(common_name: &str) -> Result<(String, String), CertError> {
    let key = KeyPair::generate().map_err(crypto)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    let csr = params.serialize_request(&key).map_err(crypto)?;
    Ok((key.serialize_pem(), csr.pem().map_err(crypto)?))
}

/// A CA that signs: a root (in global) or an intermediate (in a zone).
pub struct CertificateAuthority {
    pub certificate_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl CertificateAuthority {
    pub fn load(certificate_pem: &str, key_pem: &str) -> Result<Self, CertError> {
        let key = KeyPair::from_pem(key_pem).map_err(crypto)?;
        let issuer = Issuer::from_ca_cert_pem(certificate_pem, key).map_err(crypto)?;
        Ok(CertificateAuthority {
            certificate_pem: certificate_pem.to_string(),
            issuer,
        })
    }

    /// Signs `csr` with exactly the given fields (tests use it for certificates Weft refuses).
    pub fn sign_with_params(
        &self,
        csr_pem: &str,
        params: CertificateParams,
    ) -> Result<String, CertError> {
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(crypto)?;
        csr.params = params;
        Ok(csr.signed_by(&self.issuer).map_err(crypto)?.pem())
    }

    /// An intermediate CA for `zone` from the zone's CSR.
    pub fn sign_intermediate(
        &self,
        csr_pem: &str,
        mesh: &str,
        zone: &str,
        lifetime: Duration,
    ) -> Result<String, CertError> {
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(crypto)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&format!("weft mesh {mesh} zone {zone}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, lifetime);
        csr.params = params;
        Ok(csr.signed_by(&self.issuer).map_err(crypto)?.pem())
    }

    /// A proxy's certificate for `spiffe_id` from its CSR: exactly one URI SAN, for both
    /// ends of a TLS connection.
    pub fn sign_leaf(
        &self,
        csr_pem: &str,
        spiffe_id: &str,
        lifetime: Duration,
    ) -> Result<String, CertError> {
        parse_spiffe(spiffe_id)?;
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(crypto)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(spiffe_id);
        params.subject_alt_names = vec![SanType::URI(
            spiffe_id
                .try_into()
                .map_err(|error: rcgen::Error| crypto(error))?,
        )];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, lifetime);
        csr.params = params;
        Ok(csr.signed_by(&self.issuer).map_err(crypto)?.pem())
    }
}

/// DER of the first certificate in a PEM text.
pub fn first_der(pem_text: &str) -> Result<Vec<u8>, CertError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes())
        .map_err(|error| CertError::Unreadable(error.to_string()))?;
    Ok(pem.contents)
}

/// Every certificate in a PEM text, as DER.
pub fn all_der(pem_text: &str) -> Result<Vec<Vec<u8>>, CertError> {
    x509_parser::pem::Pem::iter_from_buffer(pem_text.as_bytes())
        .map(|pem| {
            pem.map(|pem| pem.contents)
                .map_err(|error| CertError::Unreadable(error.to_string()))
        })
        .collect()
}

/// The mesh and service a leaf certificate (DER) names: exactly one URI SAN, a SPIFFE id.
pub fn identity_of(der: &[u8]) -> Result<(String, String), CertError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| CertError::Unreadable(error.to_string()))?;
    let uris: Vec<String> = certificate
        .subject_alternative_name()
        .map_err(|error| CertError::Unreadable(error.to_string()))?
        .map(|extension| {
            extension
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    x509_parser::extensions::GeneralName::URI(uri) => Some(uri.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    match uris.as_slice() {
        [uri] => parse_spiffe(uri),
        _ => Err(CertError::UriSans(uris.len())),
    }
}

/// When a certificate (DER) stops being valid.
pub fn not_after(der: &[u8]) -> Result<SystemTime, CertError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| CertError::Unreadable(error.to_string()))?;
    let seconds = certificate.validity().not_after.timestamp();
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
}

/// When a certificate (DER) started being valid.
pub fn not_before(der: &[u8]) -> Result<SystemTime, CertError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| CertError::Unreadable(error.to_string()))?;
    let seconds = certificate.validity().not_before.timestamp();
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
}

/// Checks a CA given by a user: a CA certificate, valid now, and the key that belongs to it.
/// Returns the certificate's fingerprint.
pub fn check_provided(certificate_pem: &str, key_pem: &str) -> Result<String, CertError> {
    let der = first_der(certificate_pem)?;
    let (_, certificate) = x509_parser::parse_x509_certificate(&der)
        .map_err(|error| CertError::Unreadable(error.to_string()))?;
    if !certificate.is_ca() {
        return Err(CertError::Provided(
            "the certificate is not a CA (basicConstraints CA:TRUE)".into(),
        ));
    }
    if !certificate.validity().is_valid() {
        return Err(CertError::Provided(
            "the certificate is not valid now".into(),
        ));
    }
    let key = KeyPair::from_pem(key_pem)
        .map_err(|error| CertError::Provided(format!("the key: {error}")))?;
    if key.public_key_raw() != certificate.public_key().subject_public_key.data.as_ref() {
        return Err(CertError::Provided(
            "the key does not belong to the certificate".into(),
        ));
    }
    CertificateAuthority::load(certificate_pem, key_pem)?;
    Ok(fingerprint(&der))
}

/// When a certificate (DER) of ours should be renewed: at 70 % of the lifetime it was issued
/// with (the clock slack before its issuance does not count).
pub fn renewal_time(der: &[u8]) -> Result<SystemTime, CertError> {
    let not_after = not_after(der)?;
    let issued = (not_before(der)? + CLOCK_SLACK).min(not_after);
    let lifetime = not_after.duration_since(issued).unwrap_or_default();
    Ok(issued + lifetime.mul_f64(0.7))
}

/// SHA-256 of a certificate's DER, as `AB:CD:…`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn root_signs_a_zone_which_signs_a_proxy_with_one_spiffe_id() {
        let (root_pem, root_key) = new_root("shop", 3650 * DAY).unwrap();
        let root = CertificateAuthority::load(&root_pem, &root_key).unwrap();
        let (zone_key, zone_csr) = new_key_and_csr("zone east").unwrap();
        let intermediate_pem = root
            .sign_intermediate(&zone_csr, "shop", "east", 7 * DAY)
            .unwrap();
        let zone = CertificateAuthority::load(&intermediate_pem, &zone_key).unwrap();
        let (_, proxy_csr) = new_key_and_csr("proxy").unwrap();
        let leaf_pem = zone
            .sign_leaf(&proxy_csr, &spiffe_id("shop", "web"), DAY)
            .unwrap();
        let leaf = first_der(&leaf_pem).unwrap();
        assert_eq!(identity_of(&leaf).unwrap(), ("shop".into(), "web".into()));
        let lifetime = not_after(&leaf)
            .unwrap()
            .duration_since(not_before(&leaf).unwrap())
            .unwrap();
        assert!(
            lifetime >= DAY && lifetime <= DAY + Duration::from_secs(600),
            "{lifetime:?}"
        );
        // A provided CA must be a CA, and come with its own key.
        assert_eq!(
            check_provided(&root_pem, &root_key).unwrap(),
            fingerprint(&first_der(&root_pem).unwrap())
        );
        let (other_root, other_key) = new_root("other", DAY).unwrap();
        assert!(matches!(
            check_provided(&root_pem, &other_key),
            Err(CertError::Provided(_))
        ));
        assert!(check_provided(&leaf_pem, &other_key).is_err());
        assert!(check_provided(&other_root, "not a key").is_err());
        // Renewal is due at 70 % of the 24 h, counted from issuance.
        let renew_in = renewal_time(&leaf)
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(
            renew_in > DAY.mul_f64(0.69) && renew_in <= DAY.mul_f64(0.7),
            "{renew_in:?}"
        );
        // The root has no URI SAN: not a mesh identity.
        assert!(matches!(
            identity_of(&first_der(&root_pem).unwrap()),
            Err(CertError::UriSans(0))
        ));
        assert!(leaf_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(fingerprint(&leaf).len(), 95);
        assert!(zone.sign_leaf(&proxy_csr, "https://shop/web", DAY).is_err());
        assert!(
            root.sign_intermediate("not a csr", "shop", "east", DAY)
                .is_err()
        );
    }

    #[test]
    fn spiffe_ids_are_strict() {
        assert_eq!(
            parse_spiffe("spiffe://shop/web").unwrap(),
            ("shop".into(), "web".into())
        );
        for bad in [
            "spiffe://shop",
            "spiffe://Shop/web",
            "spiffe://shop/web/x",
            "http://shop/web",
            "spiffe:///web",
        ] {
            assert!(parse_spiffe(bad).is_err(), "{bad}");
        }
    }
}

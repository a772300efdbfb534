//! mTLS between proxies (rustls, TLS 1.3 only). A proxy presents the certificate of the
//! service it speaks for and accepts only peers whose certificate chains to its mesh's trust
//! bundle and names exactly one SPIFFE id of that mesh. A client checks that the server is the
//! service it chose: the expected identity travels in the TLS server name
//! (`<service>.<mesh>.weft`), never from anything the peer says.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use weft_identity::ca;

/// ALPN protocols between proxies.
pub const ALPN_H2: &[u8] = b"h2";
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server name that carries the identity a client expects.
pub fn server_name(mesh: &str, service: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(format!("{service}.{mesh}.weft")).ok()
}

fn expected_identity(name: &ServerName<'_>) -> Option<(String, String)> {
    let ServerName::DnsName(dns) = name else {
        return None;
    };
    let text = dns.as_ref().strip_suffix(".weft")?;
    let (service, mesh) = text.split_once('.')?;
    Some((mesh.to_string(), service.to_string()))
}

fn roots(trust_bundle_pem: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(trust_bundle_pem.as_bytes()) {
        let certificate = certificate.map_err(|error| format!("trust bundle: {error}"))?;
        roots
            .add(certificate)
            .map_err(|error| format!("trust bundle: {error}"))?;
    }
    if roots.is_empty() {
        return Err("the trust bundle holds no certificate".into());
    }
    Ok(roots)
}

fn chain(chain_pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("certificate chain: {error}"))
}

fn key(key_pem: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|error| format!("key: {error}"))
}

/// The two TLS configs of one identity.
pub struct TlsConfigs {
    pub server: Arc<ServerConfig>,
    /// For HTTP/2 upstreams (ALPN `h2`).
    pub client_h2: Arc<ClientConfig>,
    /// For HTTP/1.1 and TCP upstreams.
    pub client_http1: Arc<ClientConfig>,
}

pub fn configs(
    mesh: &str,
    key_pem: &str,
    chain_pem: &str,
    trust_bundle_pem: &str,
) -> Result<TlsConfigs, String> {
    let roots = Arc::new(roots(trust_bundle_pem)?);
    let chain = chain(chain_pem)?;
    let provider = provider();
    let client_verifier =
        WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|error| format!("client verifier: {error}"))?;
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|error| error.to_string())?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain.clone(), key(key_pem)?)
        .map_err(|error| format!("server certificate: {error}"))?;
    server.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    let verifier = Arc::new(MeshServerVerifier {
        roots,
        mesh: mesh.to_string(),
        provider: provider.clone(),
    });
    let client = |alpn: &[u8]| -> Result<Arc<ClientConfig>, String> {
        let mut config = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|error| error.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_client_auth_cert(chain.clone(), key(key_pem)?)
            .map_err(|error| format!("client certificate: {error}"))?;
        config.alpn_protocols = vec![alpn.to_vec()];
        Ok(Arc::new(config))
    };
    Ok(TlsConfigs {
        server: Arc::new(server),
        client_h2: client(ALPN_H2)?,
        client_http1: client(ALPN_HTTP1)?,
    })
}

/// Checks a server's chain against the mesh's roots and its identity against the one the
/// client asked for.
#[derive(Debug)]
struct MeshServerVerifier {
    roots: Arc<RootCertStore>,
    mesh: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for MeshServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        let presented = ca::identity_of(end_entity.as_ref())
            .map_err(|error| rustls::Error::General(error.to_string()))?;
        let expected = expected_identity(server_name)
            .ok_or_else(|| rustls::Error::General("no expected identity".into()))?;
        if presented != expected || presented.0 != self.mesh {
            return Err(rustls::Error::General(format!(
                "the server is spiffe://{}/{}, not spiffe://{}/{}",
                presented.0, presented.1, expected.0, expected.1
            )));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(
            "TLS 1.2 is not used inside the mesh".into(),
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The verified identity of a TLS client, from its certificate: (mesh, service). The chain
/// was checked during the handshake; this reads the one SPIFFE id and refuses other meshes.
pub fn peer_identity(
    certificates: Option<&[CertificateDer<'_>]>,
    mesh: &str,
) -> Result<String, String> {
    let leaf = certificates
        .and_then(|certificates| certificates.first())
        .ok_or("the peer presented no certificate")?;
    let (peer_mesh, service) = ca::identity_of(leaf.as_ref()).map_err(|error| error.to_string())?;
    if peer_mesh != mesh {
        return Err(format!("the peer is of mesh {peer_mesh}, not {mesh}"));
    }
    Ok(service)
}

/// The fingerprint of the root in `trust_bundle_pem` that `chain_pem` (leaf first) chains to,
/// or why it chains to none.
pub fn issuing_root(chain_pem: &str, trust_bundle_pem: &str) -> Result<String, String> {
    let chain = chain(chain_pem)?;
    let (leaf, intermediates) = chain.split_first().ok_or("the chain is empty")?;
    let parsed = rustls::server::ParsedCertificate::try_from(leaf)
        .map_err(|error| format!("certificate: {error}"))?;
    let provider = provider();
    let now = UnixTime::now();
    for root in CertificateDer::pem_slice_iter(trust_bundle_pem.as_bytes()) {
        let root = root.map_err(|error| format!("trust bundle: {error}"))?;
        let mut store = RootCertStore::empty();
        if store.add(root.clone()).is_err() {
            continue;
        }
        let verified = rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &store,
            intermediates,
            now,
            provider.signature_verification_algorithms.all,
        );
        if verified.is_ok() {
            return Ok(ca::fingerprint(root.as_ref()));
        }
    }
    Err("the certificate does not chain to any root of the trust bundle".into())
}

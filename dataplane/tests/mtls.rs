//! mTLS between proxies and TrafficPermission, with real handshakes: who gets in, with which
//! certificate, and what a forged header is worth.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weft_dp::policy::telemetry::SOURCE_HEADER;
use weft_model::mesh::MtlsMode;
use weft_model::proxy::{PermissionEntry, Permissions};
use weft_model::traffic_permission::{Action, Source};

/// Accepts any server certificate and keeps it, so the test can look at it.
#[derive(Debug, Default)]
struct Recorder {
    seen: Mutex<Option<Vec<u8>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap() = Some(end_entity.to_vec());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A raw TLS client presenting `credentials` (or none); the answer to one GET, or the error.
async fn raw_get(
    port: u16,
    credentials: Option<(String, String)>,
    recorder: Arc<Recorder>,
) -> Result<(String, rustls::ProtocolVersion, Option<Vec<u8>>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(recorder);
    let mut config = match credentials {
        Some((key, chain)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(chain.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let stream = tokio::net::TcpStream::connect(loopback(port))
        .await
        .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tls = connector
        .connect(ServerName::try_from("web.shop.weft").unwrap(), stream)
        .await
        .map_err(|error| error.to_string())?;
    let version = tls.get_ref().1.protocol_version().unwrap();
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    tls.write_all(b"GET / HTTP/1.1\r\nhost: web\r\nconnection: close\r\n\r\n")
        .await
        .map_err(|error| error.to_string())?;
    let mut answer = Vec::new();
    // A refused client certificate shows up as an alert when reading.
    tls.read_to_end(&mut answer)
        .await
        .map_err(|error| error.to_string())?;
    if answer.is_empty() {
        return Err("the connection closed without an answer".into());
    }
    Ok((String::from_utf8_lossy(&answer).to_string(), version, alpn))
}

fn allow(service: &str) -> PermissionEntry {
    PermissionEntry {
        source: Source {
            service: Some(service.into()),
            ..Source::default()
        },
        action: Action::Allow,
        origin: format!("TrafficPermission/{service}-may"),
        services: vec![],
    }
}

#[tokio::test]
async fn strict_inbounds_take_only_tls13_peers_of_their_own_mesh() {
    let mesh = TestMesh::new("shop");
    let other = TestMesh::new("payroll");
    let app = App::start("web").await;
    let (_web, _, port) = callee(&mesh, "web", app.port, MtlsMode::Strict, |listener| {
        listener.permissions = Permissions {
            default_action: Action::Allow,
            rules: vec![],
        };
    })
    .await;
    let day = Duration::from_secs(86_400);
    // A peer of the same mesh: TLS 1.3, and the server is spiffe://shop/web.
    let recorder = Arc::new(Recorder::default());
    let (answer, version, alpn) = raw_get(
        port,
        Some(mesh.leaf("spiffe://shop/orders", day)),
        recorder.clone(),
    )
    .await
    .expect("a peer of the mesh is served");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    let server = recorder.seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        weft_identity::ca::identity_of(&server).unwrap(),
        ("shop".to_string(), "web".to_string())
    );
    // Refused: no certificate, another mesh's, an expired one, plaintext.
    let refused = |credentials| async move { raw_get(port, credentials, Arc::default()).await };
    assert!(refused(None).await.is_err(), "no client certificate");
    assert!(
        refused(Some(other.leaf("spiffe://payroll/web", day)))
            .await
            .is_err(),
        "another mesh's CA"
    );
    assert!(
        refused(Some(other.leaf("spiffe://shop/web", day)))
            .await
            .is_err(),
        "the right name signed by the wrong CA"
    );
    assert!(refused(Some(expired(&mesh))).await.is_err(), "expired");
    assert!(
        refused(Some(two_uri_sans(&mesh))).await.is_err(),
        "two URI SANs"
    );
    let mut plain = tokio::net::TcpStream::connect(loopback(port))
        .await
        .unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nhost: web\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let _ = plain.read_to_end(&mut buffer).await;
    assert!(buffer.is_empty(), "plaintext gets nothing in a strict mesh");
    assert_eq!(
        app.requests(),
        1,
        "only the mesh peer reached the application"
    );
}

/// A certificate of the right CA and name that expired years ago.
fn expired(mesh: &TestMesh) -> (String, String) {
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![rcgen::SanType::URI(
        "spiffe://shop/orders".try_into().unwrap(),
    )];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    resigned(mesh, params)
}

/// A fresh key with a certificate of `params` from the mesh's intermediate.
fn resigned(mesh: &TestMesh, params: rcgen::CertificateParams) -> (String, String) {
    let (key, chain) = mesh.leaf("spiffe://shop/orders", Duration::from_secs(3600));
    let key_pair = rcgen::KeyPair::from_pem(&key).unwrap();
    let csr = rcgen::CertificateParams::default()
        .serialize_request(&key_pair)
        .unwrap()
        .pem()
        .unwrap();
    let intermediate = chain
        .split_inclusive("-----END CERTIFICATE-----\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (
        key,
        format!("{}{intermediate}", mesh.sign_raw(&csr, params)),
    )
}

/// A certificate of the right CA with two URI SANs.
fn two_uri_sans(mesh: &TestMesh) -> (String, String) {
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![
        rcgen::SanType::URI("spiffe://shop/orders".try_into().unwrap()),
        rcgen::SanType::URI("spiffe://shop/web".try_into().unwrap()),
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    resigned(mesh, params)
}

#[tokio::test]
async fn permissions_use_the_certificate_never_the_header() {
    let mesh = TestMesh::new("shop");
    let catalog = App::start("catalog").await;
    let (_catalog, catalog_telemetry, port) = callee(
        &mesh,
        "catalog",
        catalog.port,
        MtlsMode::Strict,
        |listener| {
            listener.permissions = Permissions {
                default_action: Action::Deny,
                rules: vec![allow("web")],
            };
        },
    )
    .await;
    let client = Client::default();
    let (_web, web_telemetry, through_web) = caller(&mesh, "web", "catalog", port).await;
    let (_orders, orders_telemetry, through_orders) =
        caller(&mesh, "orders", "catalog", port).await;
    assert_eq!(client.get(through_web, "/").await.status, 200);
    let denied = client.get(through_orders, "/").await;
    assert_eq!(denied.status, 403);
    assert!(
        denied
            .body
            .contains("service orders may not call this service"),
        "{}",
        denied.body
    );
    // orders saying it is web changes nothing: the certificate says orders.
    let forged = client
        .get_with(through_orders, "/", &[(SOURCE_HEADER, "web")])
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(catalog.requests(), 1);
    // The callers count what happened: mTLS edges, and denials.
    let edge = |telemetry: &weft_dp::telemetry::Telemetry| {
        telemetry
            .take()
            .into_iter()
            .find(|(key, _)| key.destination_service == "catalog")
            .map(|(_, counters)| counters)
            .unwrap()
    };
    let web_edge = edge(&web_telemetry);
    assert_eq!(web_edge.mtls_requests, web_edge.requests);
    assert_eq!(web_edge.denied, 0);
    let orders_edge = edge(&orders_telemetry);
    assert_eq!(orders_edge.mtls_requests, orders_edge.requests);
    assert_eq!(orders_edge.denied, 2);
    // The inbound counts nothing of the mesh's traffic for the graph (the callers do).
    assert!(catalog_telemetry.take().is_empty());
}

#[tokio::test]
async fn permissive_inbounds_take_both_and_label_which() {
    let mesh = TestMesh::new("shop");
    let app = App::start("catalog").await;
    let (_catalog, _, port) =
        callee(&mesh, "catalog", app.port, MtlsMode::Permissive, |_| {}).await;
    let client = Client::default();
    assert_eq!(client.get(port, "/").await.status, 200, "plaintext");
    let (_web, web_telemetry, through_web) = caller(&mesh, "web", "catalog", port).await;
    assert_eq!(client.get(through_web, "/").await.status, 200, "mTLS");
    let edges = web_telemetry.take();
    assert!(
        edges
            .values()
            .all(|counters| counters.mtls_requests == counters.requests),
        "{edges:?}"
    );
    assert_eq!(app.requests(), 2);
}

/// A TCP relay to `target` that counts the connections it accepts: the port returned, and the
/// count.
async fn counting_relay(target: u16) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(loopback(target)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut upstream).await;
                }
            });
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn concurrent_http1_requests_share_one_http2_connection_between_mesh_proxies() {
    use std::sync::atomic::Ordering::SeqCst;
    let mesh = TestMesh::new("shop");
    let app = App::start("catalog").await;
    app.behaviour.hold.store(true, SeqCst);
    let (_catalog, _, port) = callee(&mesh, "catalog", app.port, MtlsMode::Strict, |_| {}).await;
    let (relay, accepted) = counting_relay(port).await;
    let (_web, _, through_web) = caller(&mesh, "web", "catalog", relay).await;
    // 20 HTTP/1.1 requests at once, each on its own connection to the caller.
    let requests: Vec<_> = (0..20)
        .map(|i| {
            tokio::spawn(async move {
                Client::default()
                    .get_with(through_web, &format!("/items/{i}"), &[("host", "catalog")])
                    .await
            })
        })
        .collect();
    eventually(
        "20 requests at the application",
        Duration::from_secs(10),
        || async { (app.behaviour.in_flight.load(SeqCst) == 20).then_some(()) },
    )
    .await;
    // All 20 travel between the proxies on one connection (one handshake), as HTTP/2.
    assert_eq!(accepted.load(SeqCst), 1, "connections between the proxies");
    app.behaviour.hold.store(false, SeqCst);
    app.behaviour.release.notify_waiters();
    for request in requests {
        let answer = request.await.unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
        // The application still gets HTTP/1.1, with the caller's Host.
        let seen = answer.json();
        assert_eq!(seen["version"], "HTTP/1.1", "{seen}");
        assert_eq!(seen["headers"]["host"], "catalog", "{seen}");
        assert!(seen["headers"].get("x-weft-orig-proto").is_none(), "{seen}");
    }
    assert_eq!(app.requests(), 20);
}

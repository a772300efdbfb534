//! Who may join: zones need a zone token for their own name, proxies a dataplane token for
//! their own service; forged, foreign and revoked tokens change nothing.

use std::time::Duration;

use weft_e2e::free_port;
use weft_e2e::process::{Process, binary};
use weft_e2e::shop::{MESH, Ports, Shop, ShopOptions};
use weft_e2e::topology::{InstanceSpec, Zone};
use weft_e2e::wait_until;

fn shop(work: &tempfile::TempDir) -> Shop {
    Shop::start(ShopOptions {
        work_dir: work.path().to_path_buf(),
        ports: Ports::Free,
        admin_password: "e2e-admin-password".into(),
        console_dir: None,
        load_rps: 0.0,
        canary_route: false,
        ..ShopOptions::default()
    })
}

/// Waits until the process's log contains `text`.
fn logged(process: &Process, text: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !process.log_tail(200).contains(text) {
        assert!(
            std::time::Instant::now() < deadline,
            "the log never said {text:?}:\n{}",
            process.log_tail(20)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn zone_names(shop: &Shop) -> Vec<String> {
    let (_, zones) = shop.global.api().get("/api/v1/zones").unwrap();
    zones["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|zone| zone["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

fn dataplane_count(shop: &Shop) -> u64 {
    let (_, body) = shop
        .global
        .api()
        .get("/api/v1/meshes/shop/dataplanes")
        .unwrap();
    body["total"].as_u64().unwrap()
}

#[test]
fn zones_without_a_valid_token_for_their_name_change_nothing() {
    let work = tempfile::tempdir().unwrap();
    let shop = shop(&work);
    let api = shop.global.api();
    let before = dataplane_count(&shop);
    let zones_before = zone_names(&shop);

    // A forged "east" holding west's token: it would replay an empty snapshot of east.
    let west_token = api.zone_token("west");
    let forged = Zone::start(
        work.path(),
        "east",
        &shop.global.upstream(),
        free_port(),
        free_port(),
        &west_token,
    );
    logged(&forged.process, "is for zone west, not zone east");
    // Garbage, and a revoked token of a new zone.
    let garbage = Zone::start(
        work.path(),
        "north",
        &shop.global.upstream(),
        free_port(),
        free_port(),
        "not-a-token",
    );
    logged(&garbage.process, "refused");
    let (status, issued) = api
        .post_json("/api/v1/zones/south/token", serde_json::json!({}))
        .unwrap();
    assert_eq!(status, 201);
    let id = issued["id"].as_str().unwrap();
    let (status, _) = api
        .delete(&format!("/api/v1/zones/south/tokens/{id}"))
        .unwrap();
    assert_eq!(status, 204);
    let revoked = Zone::start(
        work.path(),
        "south",
        &shop.global.upstream(),
        free_port(),
        free_port(),
        issued["token"].as_str().unwrap(),
    );
    logged(&revoked.process, "the token was revoked");
    // A valid token, but trusting another CA than global's: the zone does not talk to it.
    let mut elsewhere = shop.global.upstream();
    elsewhere.ca_file = shop.zones[0].upstream().ca_file;
    let untrusting = Zone::start(
        work.path(),
        "polar",
        &elsewhere,
        free_port(),
        free_port(),
        &api.zone_token("polar"),
    );
    logged(&untrusting.process, "invalid peer certificate");
    // Both gRPC ports speak TLS only.
    assert!(!answers_plaintext_http2(shop.global.grpc_port));
    assert!(!answers_plaintext_http2(shop.zones[0].grpc_port));
    for zone in [&forged, &garbage, &revoked, &untrusting] {
        assert_eq!(zone.status()["globalConnected"], false);
    }
    assert_eq!(
        zone_names(&shop),
        zones_before,
        "no zone was created or replaced"
    );
    assert_eq!(
        dataplane_count(&shop),
        before,
        "east's dataplanes are all still there"
    );
    // The listed tokens show the revocation, never a secret.
    let (_, tokens) = api.get("/api/v1/zones/south/tokens").unwrap();
    assert!(tokens["items"][0]["revokedAt"].is_string(), "{tokens}");
    assert!(tokens["items"][0].get("token").is_none());
}

/// Speaks plaintext HTTP/2 to `port`: whether an HTTP/2 server answers (a TLS port does not).
fn answers_plaintext_http2(port: u16) -> bool {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The connection preface and an empty SETTINGS frame.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    let mut reply = [0u8; 9];
    // A SETTINGS frame has type 4 in its fourth byte; a TLS alert or a closed socket does not.
    matches!(stream.read(&mut reply), Ok(n) if n >= 4 && reply[3] == 0x04)
}

/// A proxy of `service` with `token`, registering in `zone`.
fn proxy(work: &tempfile::TempDir, zone: &Zone, name: &str, service: &str, token: &str) -> Process {
    proxy_trusting(work, zone, &zone.upstream().ca_file, name, service, token)
}

/// [`proxy`], trusting `ca_file` for the zone's certificate.
fn proxy_trusting(
    work: &tempfile::TempDir,
    zone: &Zone,
    ca_file: &std::path::Path,
    name: &str,
    service: &str,
    token: &str,
) -> Process {
    let spec = InstanceSpec {
        name: name.into(),
        mesh: MESH.into(),
        service: service.into(),
        version: "v9".into(),
        inbound_port: free_port(),
        app_port: free_port(),
        admin_port: free_port(),
        outbound: vec![],
        error_percent: 0.0,
    };
    let manifest = work.path().join(format!("{name}.yaml"));
    std::fs::write(&manifest, spec.manifest()).unwrap();
    let token_file = work.path().join(format!("{name}.token"));
    std::fs::write(&token_file, token).unwrap();
    Process::spawn(
        &format!("dp-{name}"),
        &binary("weft-dp"),
        &[
            format!("--zone-address={}", zone.grpc_url()),
            format!("--zone-ca-file={}", ca_file.display()),
            format!("--dataplane-file={}", manifest.display()),
            format!("--dataplane-token-file={}", token_file.display()),
            format!("--admin-address=127.0.0.1:{}", spec.admin_port),
        ],
        &[],
        work.path(),
    )
}

#[test]
fn proxies_register_only_their_own_identity_even_while_global_is_down() {
    let work = tempfile::tempdir().unwrap();
    let mut shop = shop(&work);
    let api = shop.global.api();
    let web_token = api.dataplane_token(MESH, "web");
    let (_, revoked) = api
        .post_json(
            "/api/v1/meshes/shop/dataplane-tokens",
            serde_json::json!({"service": "orders"}),
        )
        .unwrap();
    let id = revoked["id"].as_str().unwrap().to_string();
    let (status, _) = api
        .delete(&format!("/api/v1/meshes/shop/dataplane-tokens/{id}"))
        .unwrap();
    assert_eq!(status, 204);
    let before = dataplane_count(&shop);

    let zone = &shop.zones[0];
    let impostor = proxy(&work, zone, "catalog-impostor", "catalog", &web_token);
    logged(&impostor, "the dataplane token is for service \"web\"");
    let tokenless = proxy(&work, zone, "catalog-nobody", "catalog", "not-a-token");
    logged(&tokenless, "dataplane token refused");
    // The zone learns revocations from global.
    let with_revoked = proxy(
        &work,
        zone,
        "orders-revoked",
        "orders",
        revoked["token"].as_str().unwrap(),
    );
    logged(&with_revoked, "the token was revoked");
    // A valid token, but trusting global's CA instead of the zone's: no session.
    let untrusting = proxy_trusting(
        &work,
        zone,
        &shop.global.upstream().ca_file,
        "web-untrusting",
        "web",
        &web_token,
    );
    logged(&untrusting, "invalid peer certificate");
    assert_eq!(dataplane_count(&shop), before, "none of them registered");

    // With global down the zone checks tokens with the keys it keeps: web's token works.
    shop.global.stop();
    let zone = &shop.zones[0];
    let newcomer = proxy(&work, zone, "web-newcomer", "web", &web_token);
    wait_until(
        "the new proxy registers without global",
        Duration::from_secs(30),
        || {
            let (_, body) = weft_e2e::api::text(&format!("{}/api/v1/dataplanes", zone.http_url()))?;
            body.contains("web-newcomer").then_some(())
        },
    );
    let impostor_offline = proxy(&work, zone, "catalog-impostor-2", "catalog", &web_token);
    logged(&impostor_offline, "the dataplane token is for service");
    drop((
        untrusting,
        impostor,
        tokenless,
        with_revoked,
        newcomer,
        impostor_offline,
    ));
}

#[test]
fn every_proxy_gets_a_certificate_for_its_service_from_the_mesh_ca() {
    let work = tempfile::tempdir().unwrap();
    let shop = shop(&work);
    let api = shop.global.api();
    let (status, ca) = api.get("/api/v1/meshes/shop/ca").unwrap();
    assert_eq!(status, 200, "{ca}");
    assert!(
        ca["certificate"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert!(
        ca.get("key").is_none() && !ca.to_string().contains("PRIVATE KEY"),
        "the key never leaves global"
    );
    let fingerprint = ca["fingerprint"].as_str().unwrap().to_string();
    for instance in ["web-east", "catalog-v2-west", "inventory-east"] {
        let instance = shop.instance(instance);
        let identity = wait_until("a certificate", Duration::from_secs(30), || {
            let (_, text) = weft_e2e::api::text(&format!("{}/identity", instance.admin_url()))?;
            let body: serde_json::Value = serde_json::from_str(&text).ok()?;
            let first = body["identities"].get(0)?.clone();
            first["spiffeId"].is_string().then_some(first)
        });
        assert_eq!(
            identity["spiffeId"],
            format!("spiffe://shop/{}", instance.spec.service)
        );
        assert_eq!(
            identity["trustBundleFingerprints"][0],
            fingerprint.as_str(),
            "{identity}"
        );
        let lifetime =
            identity["notAfter"].as_u64().unwrap() - identity["notBefore"].as_u64().unwrap();
        assert!(
            (86_400..=86_400 + 600).contains(&lifetime),
            "24 h by default: {lifetime}"
        );
    }
}

/// A key and certificate chain for `spiffe://shop/web` from a CA the shop does not trust.
fn stranger_identity() -> (String, String) {
    use weft_identity::ca;
    let day = std::time::Duration::from_secs(86_400);
    let (root_pem, root_key) = ca::new_root("shop", day).unwrap();
    let root = ca::CertificateAuthority::load(&root_pem, &root_key).unwrap();
    let (key, csr) = ca::new_key_and_csr("stranger").unwrap();
    let leaf = root.sign_leaf(&csr, "spiffe://shop/web", day).unwrap();
    (key, leaf)
}

/// Accepts any server certificate: these clients test what the server accepts.
#[derive(Debug)]
struct AnyServer(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS handshake with `port` (TLS 1.3, or 1.2 when `tls12`), presenting `identity` (key,
/// chain) when given, then one HTTP request: the answer's first line, or why there was none.
fn tls_exchange(
    port: u16,
    identity: Option<&(String, String)>,
    tls12: bool,
) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use std::io::{Read, Write};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let version: &'static rustls::SupportedProtocolVersion = if tls12 {
        &rustls::version::TLS12
    } else {
        &rustls::version::TLS13
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .map_err(|error| error.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AnyServer(provider)));
    let config = match identity {
        Some((key, chain)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(chain.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|error| error.to_string())?,
                PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|error| error.to_string())?,
            )
            .map_err(|error| error.to_string())?,
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("catalog.shop.weft").map_err(|error| error.to_string())?;
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
        .map_err(|error| error.to_string())?;
    let socket =
        std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|error| error.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|error| error.to_string())?;
    let mut stream = rustls::StreamOwned::new(connection, socket);
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: catalog\r\nconnection: close\r\n\r\n")
        .map_err(|error| format!("write: {error}"))?;
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) if !answer.is_empty() => Ok(String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()),
        Ok(_) => Err("closed without an answer".into()),
        Err(error) => Err(format!("read: {error}")),
    }
}

/// Statuses of `count` GETs to `url` (0 when nothing answered).
fn statuses(url: &str, count: usize) -> Vec<u16> {
    (0..count)
        .map(|_| weft_e2e::api::status(url).unwrap_or(0))
        .collect()
}

/// The graph's edge from `source` to `target` over the last 60 s.
fn graph_edge(shop: &Shop, source: &str, target: &str) -> Option<serde_json::Value> {
    let (_, graph) = shop
        .global
        .api()
        .get("/api/v1/meshes/shop/graph?window=60s")
        .ok()?;
    graph["edges"]
        .as_array()?
        .iter()
        .find(|edge| edge["source"] == source && edge["target"] == target)
        .cloned()
}

const CALLERS: &str = "apiVersion: weft.dev/v1alpha1
kind: TrafficPermission
metadata: {name: catalog-callers, mesh: shop}
spec:
  targetRef: {kind: Service, name: catalog}
  from:
    - {source: {service: web}, action: Allow}
---
apiVersion: weft.dev/v1alpha1
kind: TrafficPermission
metadata: {name: inventory-callers, mesh: shop}
spec:
  targetRef: {kind: Service, name: inventory}
  from:
    - {source: {service: catalog}, action: Allow}
";

#[test]
fn strict_meshes_deny_what_no_permission_allows_and_the_graph_shows_it() {
    let work = tempfile::tempdir().unwrap();
    let shop = shop(&work);
    let api = shop.global.api();
    let web = shop.web();
    let through_web = |service: &str| {
        let (_, port) = web
            .spec
            .outbound
            .iter()
            .find(|(name, _)| name == service)
            .expect("web calls the service");
        format!("http://127.0.0.1:{port}/")
    };
    let catalog_v1 = shop.instance("catalog-v1-east");

    // Permissive (the shop's mode): plaintext from outside and mTLS from web both pass, and
    // the graph labels which is which.
    assert!(statuses(&catalog_v1.url(), 5).contains(&200));
    assert!(statuses(&through_web("catalog"), 10).contains(&200));
    wait_until(
        "the graph to label both edges",
        Duration::from_secs(30),
        || {
            let outside = graph_edge(&shop, "external", "catalog/v1")?;
            let inside = graph_edge(&shop, "web/v1", "catalog/v1")?;
            assert_eq!(outside["mtls"], false, "{outside}");
            (inside["mtls"] == true).then_some(())
        },
    );

    // Strict, and no permission: every call in the mesh is denied, plaintext is refused.
    api.apply(
        "/api/v1/meshes/shop",
        &weft_e2e::shop::MESH_MANIFEST.replace("permissive", "strict"),
    );
    for instance in &shop.instances {
        instance.wait_for_config("the strict mesh", |config| {
            config["config"]["mtls"] == "strict"
        });
    }
    assert_eq!(
        weft_e2e::api::status(&catalog_v1.url()),
        None,
        "a strict inbound refuses plaintext"
    );
    // Our own TLS clients: without a certificate, with one of another CA, or with TLS 1.2, the
    // inbound refuses them.
    let port = catalog_v1.spec.inbound_port;
    let stranger = stranger_identity();
    for (what, identity, tls12) in [
        ("no client certificate", None, false),
        ("a certificate of another CA", Some(&stranger), false),
        ("TLS 1.2", Some(&stranger), true),
    ] {
        let outcome = tls_exchange(port, identity, tls12);
        assert!(outcome.is_err(), "{what}: {outcome:?}");
    }
    for service in ["catalog", "orders"] {
        let (status, body) = weft_e2e::api::get_with(&through_web(service), &[]).unwrap();
        assert_eq!(status, 403, "{service}: {body}");
        assert!(
            body.as_str()
                .unwrap_or_default()
                .contains("TrafficPermission"),
            "the refusal names why: {body}"
        );
    }
    wait_until(
        "the graph to show the denials",
        Duration::from_secs(30),
        || {
            let edge = graph_edge(&shop, "web/v1", "orders/v1")?;
            assert_eq!(edge["mtls"], true, "{edge}");
            (edge["deniedPerSecond"].as_f64()? > 0.0).then_some(())
        },
    );

    let (_, metrics) = weft_e2e::api::text(&format!("{}/metrics", web.admin_url())).unwrap();
    let count =
        |name: &str| weft_e2e::api::metric_sum(&metrics, &[name, "destination_service=\"orders\""]);
    assert!(count("weft_dp_denied_requests_total{") >= 1.0, "{metrics}");
    assert!(count("weft_dp_mtls_requests_total{") >= 1.0, "{metrics}");

    // Allow web → catalog (and catalog → inventory): web gets answers, orders still refuses.
    api.apply_all(CALLERS);
    wait_until(
        "web → catalog to be allowed",
        Duration::from_secs(30),
        || (weft_e2e::api::status(&through_web("catalog")) == Some(200)).then_some(()),
    );
    // catalog v2 fails 3 % of requests by design; nothing is denied any more.
    let catalog = statuses(&through_web("catalog"), 20);
    assert!(
        catalog
            .iter()
            .all(|status| *status == 200 || *status == 500),
        "{catalog:?}"
    );
    assert_eq!(statuses(&through_web("orders"), 5), vec![403; 5]);
    // An application claiming to be someone else gains nothing.
    let (status, _) =
        weft_e2e::api::get_with(&through_web("orders"), &[("x-weft-source", "admin")]).unwrap();
    assert_eq!(status, 403);
}

#[test]
fn the_zone_api_is_local_only_unless_it_has_a_token() {
    use weft_e2e::topology::{Global, GlobalOptions};
    let work = tempfile::tempdir().unwrap();
    let global = Global::start(
        work.path(),
        GlobalOptions {
            http_port: free_port(),
            grpc_port: free_port(),
            admin_password: "e2e-admin-password".into(),
            console_dir: None,
            database_url: None,
        },
    );
    let api = global.api();
    let status_of = |zone: &Zone, token: Option<&str>| {
        let headers: Vec<(&str, String)> = token
            .map(|token| vec![("authorization", format!("Bearer {token}"))])
            .unwrap_or_default();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        weft_e2e::api::get_with(&format!("{}/api/v1/status", zone.http_url()), &headers)
            .map(|(status, _)| status)
    };
    // On every address and without a token: probes and metrics answer, the API does not.
    let http = free_port();
    let open = Zone::start_with(
        work.path(),
        "north",
        &global.upstream(),
        http,
        free_port(),
        &api.zone_token("north"),
        &[format!("--http-address=0.0.0.0:{http}")],
    );
    assert_eq!(status_of(&open, None), Some(401));
    assert_eq!(
        weft_e2e::api::status(&format!("{}/metrics", open.http_url())),
        Some(200)
    );
    // With a token file, the token opens it.
    let token_file = work.path().join("zone-api.token");
    std::fs::write(&token_file, "a-long-random-zone-api-token\n").unwrap();
    let http = free_port();
    let guarded = Zone::start_with(
        work.path(),
        "south",
        &global.upstream(),
        http,
        free_port(),
        &api.zone_token("south"),
        &[
            format!("--http-address=0.0.0.0:{http}"),
            format!("--http-token-file={}", token_file.display()),
        ],
    );
    assert_eq!(status_of(&guarded, None), Some(401));
    assert_eq!(status_of(&guarded, Some("wrong")), Some(401));
    assert_eq!(
        status_of(&guarded, Some("a-long-random-zone-api-token")),
        Some(200)
    );
}

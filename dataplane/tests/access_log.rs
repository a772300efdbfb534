//! AccessLog on real traffic: JSON lines to a file that survives rotation, text lines to TCP.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::*;
use tokio::io::AsyncBufReadExt;
use weft_dp::policy::telemetry::SOURCE_HEADER;
use weft_model::mesh::MtlsMode;
use weft_model::policy::access_log::{AccessLogConf, FileBackend, Format, LogBackend, TcpBackend};
use weft_model::proxy::PerSource;

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

#[tokio::test]
async fn json_lines_go_to_a_file_and_a_rotated_file_is_replaced() {
    let catalog = App::start("catalog").await;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("access.log");
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.access_log = Some(AccessLogConf {
        backend: Some(LogBackend {
            file: Some(FileBackend {
                path: path.display().to_string(),
            }),
            ..LogBackend::default()
        }),
        format: Some(Format::Json),
    });
    let (_proxy, _) = serve(config(
        vec![],
        vec![out],
        vec![endpoint("catalog", "v1", catalog.port)],
    ))
    .await;
    let client = Client::default();
    client
        .get_with(
            port,
            "/items?page=1",
            &[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )],
        )
        .await;
    let entry = eventually("a line is written", Duration::from_secs(5), || async {
        lines(&path).into_iter().next()
    })
    .await;
    assert_eq!(entry["method"], "GET");
    assert_eq!(entry["path"], "/items?page=1");
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["direction"], "outbound");
    assert_eq!(entry["source"], "web");
    assert_eq!(entry["destination"], "catalog");
    assert_eq!(entry["upstream"], format!("127.0.0.1:{}", catalog.port));
    assert_eq!(entry["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(entry["responseBytes"].as_u64().unwrap() > 0);
    assert!(entry["startTime"].as_str().unwrap().ends_with('Z'));

    // logrotate moves the file away; the proxy writes to a new one at the path.
    let rotated = directory.path().join("access.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    eventually("a new file is started", Duration::from_secs(10), || async {
        client.get(port, "/after").await;
        lines(&path)
            .iter()
            .any(|entry| entry["path"] == "/after")
            .then_some(())
    })
    .await;
    // Lines written before the proxy noticed (it looks once a second) stay in the old file.
    assert_eq!(lines(&rotated)[0]["path"], "/items?page=1");
}

#[tokio::test]
async fn text_lines_go_to_a_tcp_collector_per_source() {
    let mesh = TestMesh::new("shop");
    let app = App::start("web").await;
    let collector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = collector.local_addr().unwrap();
    let (_web, _, port) = callee(&mesh, "web", app.port, MtlsMode::Permissive, |listener| {
        listener.access_log = PerSource {
            default: None,
            sources: BTreeMap::from([(
                "orders".to_string(),
                AccessLogConf {
                    backend: Some(LogBackend {
                        tcp: Some(TcpBackend {
                            address: address.to_string(),
                        }),
                        ..LogBackend::default()
                    }),
                    format: Some(Format::Text),
                },
            )]),
        };
    })
    .await;
    let client = Client::default();
    client.get(port, "/not-logged").await;
    client
        .get_with(port, "/forged", &[(SOURCE_HEADER, "orders")])
        .await;
    let (_orders, _, through_orders) = caller(&mesh, "orders", "web", port).await;
    client.get(through_orders, "/logged").await;
    let (stream, _) = tokio::time::timeout(Duration::from_secs(5), collector.accept())
        .await
        .unwrap()
        .unwrap();
    let mut reader = tokio::io::BufReader::new(stream).lines();
    let line = tokio::time::timeout(Duration::from_secs(5), reader.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        line.contains("inbound \"GET /logged HTTP/1.1\" 200"),
        "{line}"
    );
    assert!(line.contains("orders->web"), "{line}");
}

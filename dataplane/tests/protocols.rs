//! HTTP/2, upgrades and plain TCP through two proxies.

mod support;

use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weft_model::dataplane::Protocol;

#[tokio::test]
async fn http2_from_the_application_stays_http2_to_an_http2_application() {
    let app = App::start("catalog").await;
    let hops = two_hops(app.port, Protocol::Http2, |_| {}).await;
    let answer = Client::http2().get(hops.outbound_port, "/items").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["version"], "HTTP/2.0");
    // An HTTP/1.1 caller reaches the same HTTP/2 application.
    let answer = Client::default().get(hops.outbound_port, "/items").await;
    assert_eq!(answer.json()["version"], "HTTP/2.0");
}

#[tokio::test]
async fn an_http1_application_gets_http1_whatever_the_caller_spoke() {
    let app = App::start("catalog").await;
    let hops = two_hops(app.port, Protocol::Http, |_| {}).await;
    let answer = Client::http2().get(hops.outbound_port, "/items").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["version"], "HTTP/1.1");
}

/// An application that switches to a byte echo on `Upgrade: echo`.
async fn upgrade_echo() -> u16 {
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = service_fn(
                    |mut request: http::Request<hyper::body::Incoming>| async move {
                        let upgrade = hyper::upgrade::on(&mut request);
                        tokio::spawn(async move {
                            if let Ok(upgraded) = upgrade.await {
                                let mut io = hyper_util::rt::TokioIo::new(upgraded);
                                let mut buffer = [0u8; 64];
                                while let Ok(n) = io.read(&mut buffer).await {
                                    if n == 0 || io.write_all(&buffer[..n]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        });
                        Ok::<_, std::convert::Infallible>(
                            http::Response::builder()
                                .status(101)
                                .header("connection", "upgrade")
                                .header("upgrade", "echo")
                                .body(http_body_util::Empty::<bytes::Bytes>::new())
                                .unwrap(),
                        )
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    port
}

#[tokio::test]
async fn upgraded_connections_pass_through_both_proxies() {
    let app = upgrade_echo().await;
    let hops = two_hops(app, Protocol::Http, |_| {}).await;
    let mut stream = tokio::net::TcpStream::connect(loopback(hops.outbound_port))
        .await
        .unwrap();
    stream
        .write_all(
            b"GET /chat HTTP/1.1\r\nhost: catalog\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");
    for message in ["hello", "through two proxies"] {
        stream.write_all(message.as_bytes()).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(echoed, message.as_bytes());
    }
}

#[tokio::test]
async fn tcp_ports_carry_bytes_and_count_them() {
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = echo.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut reader, mut writer) = stream.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            });
        }
    });
    let hops = two_hops(echo_port, Protocol::Tcp, |_| {}).await;
    let mut stream = tokio::net::TcpStream::connect(loopback(hops.outbound_port))
        .await
        .unwrap();
    let payload = vec![7u8; 10_000];
    stream.write_all(&payload).await.unwrap();
    let mut echoed = vec![0u8; payload.len()];
    stream.read_exact(&mut echoed).await.unwrap();
    assert_eq!(echoed, payload);
    drop(stream);
    let counters = eventually(
        "the connection is counted",
        Duration::from_secs(5),
        || async {
            let edges = hops.web_telemetry.take();
            edges
                .into_iter()
                .find(|(key, counters)| {
                    key.destination_service == "catalog" && counters.requests > 0
                })
                .map(|(_, counters)| counters)
        },
    )
    .await;
    assert_eq!(counters.requests, 1);
    assert_eq!(counters.request_bytes, 10_000);
    assert_eq!(counters.response_bytes, 10_000);
}

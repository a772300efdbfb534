//! weft-global's HTTP port on a real socket: slow clients are cut off, connections past the
//! limit are closed at once, and handlers see the client's address.

mod common;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weft_runtime::http_server::{ServerLimits, serve};

/// Reads until the peer closes or `limit` passes; what was read, and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into(), true),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), false),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_port_bounds_slow_and_excess_clients() {
    let api = common::api().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let limits = ServerLimits {
        header_read_timeout: Duration::from_millis(300),
        max_connections: 2,
        ..ServerLimits::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        weft_global::http::app(api.state.clone()),
        limits,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));

    // A client that never finishes its headers is cut off.
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(closed, "a slow client keeps its connection");

    // Two connections are the limit: a third is closed at once, without an answer.
    let mut first = TcpStream::connect(address).await.unwrap();
    let mut second = TcpStream::connect(address).await.unwrap();
    for stream in [&mut first, &mut second] {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
    }
    let mut third = TcpStream::connect(address).await.unwrap();
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let (answer, closed) = read_until_closed(&mut third, Duration::from_secs(10)).await;
    assert!(closed && answer.is_empty(), "{answer:?}");
    drop((first, second));

    // Handlers see the client's address: the audit log records it.
    let token = api.token.clone();
    let body = r#"{"name":"from-a-socket"}"#;
    let wait = tokio::time::Instant::now() + Duration::from_secs(10);
    let response = loop {
        let mut client = TcpStream::connect(address).await.unwrap();
        let request = format!(
            "POST /api/v1/auth/tokens HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        client.write_all(request.as_bytes()).await.unwrap();
        let (answer, _) = read_until_closed(&mut client, Duration::from_secs(10)).await;
        // The two connections above may still hold their places for a moment.
        if !answer.is_empty() || tokio::time::Instant::now() > wait {
            break answer;
        }
    };
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let (_, page) = api.call("GET", "/api/v1/audit?kind=ApiToken", None).await;
    assert_eq!(page["items"][0]["address"], "127.0.0.1", "{page}");

    let _ = stop.send(());
    server.await.unwrap();
}

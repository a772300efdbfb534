//! Listener limits against slow, large and abusive clients, with raw bytes on the wire.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_dp::proxy::{Proxy, ServerLimits};
use weft_dp::telemetry::Telemetry;

async fn proxy_with(limits: ServerLimits) -> (Arc<Proxy>, u16, App) {
    let app = App::start("web").await;
    let port = free_port();
    let proxy = Proxy::with_limits(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        Arc::new(Telemetry::default()),
        limits,
    );
    proxy
        .apply(
            1,
            config(vec![inbound(port, app.port, "web")], vec![], vec![]),
        )
        .await
        .unwrap();
    (proxy, port, app)
}

/// Reads until the peer closes (or the deadline passes, which fails the test).
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the proxy kept the connection open");
    seen
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let (_proxy, port, app) = proxy_with(ServerLimits {
        header_read_timeout: Duration::from_millis(200),
        ..ServerLimits::default()
    })
    .await;
    let mut stream = TcpStream::connect(loopback(port)).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: web\r\nx-slow: ")
        .await
        .unwrap();
    read_to_close(&mut stream).await;
    assert_eq!(app.requests(), 0);
}

#[tokio::test]
async fn oversized_and_too_many_headers_get_431() {
    let (_proxy, port, app) = proxy_with(ServerLimits {
        max_header_bytes: 16 * 1024,
        max_headers: 20,
        ..ServerLimits::default()
    })
    .await;
    let big = format!(
        "GET / HTTP/1.1\r\nhost: web\r\nx-big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let mut many = String::from("GET / HTTP/1.1\r\nhost: web\r\n");
    for n in 0..50 {
        many.push_str(&format!("x-{n}: 1\r\n"));
    }
    many.push_str("\r\n");
    for request in [big, many] {
        let mut stream = TcpStream::connect(loopback(port)).await.unwrap();
        let _ = stream.write_all(request.as_bytes()).await;
        let answer = String::from_utf8_lossy(&read_to_close(&mut stream).await).to_string();
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    }
    assert_eq!(app.requests(), 0);
}

#[tokio::test]
async fn connections_over_the_limit_wait_for_a_free_slot() {
    let (_proxy, port, _app) = proxy_with(ServerLimits {
        max_connections: 1,
        ..ServerLimits::default()
    })
    .await;
    let mut first = TcpStream::connect(loopback(port)).await.unwrap();
    first
        .write_all(b"GET / HTTP/1.1\r\nhost: web\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 1024];
    assert!(
        first.read(&mut buffer).await.unwrap() > 0,
        "the first connection is served"
    );
    let mut second = TcpStream::connect(loopback(port)).await.unwrap();
    second
        .write_all(b"GET / HTTP/1.1\r\nhost: web\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(300), second.read(&mut buffer)).await;
    assert!(
        waiting.is_err(),
        "the second connection is not served while the first is open"
    );
    drop(first);
    let answer = String::from_utf8_lossy(&read_to_close(&mut second).await).to_string();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// An HTTP/2 frame: length, type, flags, stream, payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = payload.len() as u32;
    let mut out = vec![
        (length >> 16) as u8,
        (length >> 8) as u8,
        length as u8,
        kind,
        flags,
    ];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// `GET /` to 127.0.0.1 in HPACK: static-table method, scheme and path, a literal authority.
fn get_block() -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x84, 0x01, 9];
    block.extend_from_slice(b"127.0.0.1");
    block
}

/// Whether a GOAWAY frame is among the bytes the server sent.
fn has_goaway(mut bytes: &[u8]) -> bool {
    while bytes.len() >= 9 {
        let length = ((bytes[0] as usize) << 16) | ((bytes[1] as usize) << 8) | bytes[2] as usize;
        if bytes[3] == GOAWAY {
            return true;
        }
        bytes = &bytes[(9 + length).min(bytes.len())..];
    }
    false
}

async fn still_serves(port: u16) {
    assert_eq!(Client::default().get(port, "/").await.status, 200);
}

#[tokio::test]
async fn rapid_reset_floods_get_goaway() {
    let (_proxy, port, _app) = proxy_with(ServerLimits::default()).await;
    let mut stream = TcpStream::connect(loopback(port)).await.unwrap();
    let mut flood = PREFACE.to_vec();
    flood.extend(frame(SETTINGS, 0, 0, &[]));
    for n in 0..2_000u32 {
        let id = 2 * n + 1;
        flood.extend(frame(HEADERS, END_HEADERS | END_STREAM, id, &get_block()));
        flood.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes()));
    }
    let _ = stream.write_all(&flood).await;
    let seen = read_to_close(&mut stream).await;
    assert!(has_goaway(&seen), "the server says goodbye before closing");
    still_serves(port).await;
}

#[tokio::test]
async fn continuation_floods_are_cut_off() {
    let (_proxy, port, app) = proxy_with(ServerLimits::default()).await;
    let mut stream = TcpStream::connect(loopback(port)).await.unwrap();
    let mut start = PREFACE.to_vec();
    start.extend(frame(SETTINGS, 0, 0, &[]));
    start.extend(frame(HEADERS, END_STREAM, 1, &get_block()));
    stream.write_all(&start).await.unwrap();
    // Endless header fragments without END_HEADERS: 1,000 × 4 KB, far past any header limit.
    let mut fragment = Vec::new();
    for _ in 0..40 {
        fragment.extend_from_slice(&[0x00, 3]);
        fragment.extend_from_slice(b"x-a");
        fragment.push(96);
        fragment.extend_from_slice(&[b'a'; 96]);
    }
    let continuation = frame(CONTINUATION, 0, 1, &fragment);
    let writer = async {
        for _ in 0..1_000 {
            if stream.write_all(&continuation).await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
    let seen = read_to_close(&mut stream).await;
    assert!(
        has_goaway(&seen) || seen.is_empty(),
        "the connection was closed"
    );
    assert_eq!(app.requests(), 0);
    still_serves(port).await;
}

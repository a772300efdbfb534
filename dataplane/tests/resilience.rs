//! Timeout, Retry and CircuitBreaker on real sockets: each test fails when its layer is gone.

mod support;

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use support::*;
use weft_dp::error::OVERLOADED_HEADER;
use weft_model::duration::DurationText;
use weft_model::policy::circuit_breaker::{CircuitBreakerConf, OutlierDetection};
use weft_model::policy::retry::{Backoff, RetryConf};
use weft_model::policy::timeout::TimeoutConf;

fn text(value: &str) -> Option<DurationText> {
    Some(DurationText(value.into()))
}

#[tokio::test]
async fn a_slow_upstream_gets_a_504_naming_the_timeout() {
    let catalog = App::start("catalog").await;
    catalog.behaviour.delay_ms.store(2_000, SeqCst);
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.timeout = Some(TimeoutConf {
        request: text("100ms"),
        ..TimeoutConf::default()
    });
    let (_proxy, telemetry) = serve(config(
        vec![],
        vec![out],
        vec![endpoint("catalog", "v1", catalog.port)],
    ))
    .await;
    let answer = Client::default().get(port, "/items").await;
    assert_eq!(answer.status, 504, "{answer:?}");
    assert!(
        answer.body.contains("request timeout of 100ms expired"),
        "{}",
        answer.body
    );
    assert_eq!(counted(&telemetry, "catalog"), (1, 0, 1));
}

#[tokio::test]
async fn a_stream_that_goes_quiet_is_cut_after_stream_idle() {
    let catalog = App::start("catalog").await;
    catalog.behaviour.delay_ms.store(2_000, SeqCst);
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.timeout = Some(TimeoutConf {
        stream_idle: text("150ms"),
        ..TimeoutConf::default()
    });
    let (_proxy, _) = serve(config(
        vec![],
        vec![out],
        vec![endpoint("catalog", "v1", catalog.port)],
    ))
    .await;
    let answer = Client::default().get(port, "/").await;
    assert_eq!(answer.status, 504);
    assert!(
        answer.body.contains("stream idle timeout of 150ms"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn retries_turn_two_failures_into_one_success_and_are_counted() {
    let catalog = App::start("catalog").await;
    catalog.behaviour.fail_first.store(2, SeqCst);
    catalog.behaviour.fail_status.store(503, SeqCst);
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.retry = Some(RetryConf {
        attempts: Some(3),
        retry_on: Some(vec!["5xx".into()]),
        backoff: Some(Backoff {
            base: text("1ms"),
            max: text("5ms"),
        }),
        ..RetryConf::default()
    });
    let (_proxy, telemetry) = serve(config(
        vec![],
        vec![out],
        vec![endpoint("catalog", "v1", catalog.port)],
    ))
    .await;
    // A POST body is replayed to every attempt.
    let answer = Client::default().post(port, "/orders", "one order").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["body"], "one order");
    assert_eq!(
        catalog.requests(),
        3,
        "three attempts reached the application"
    );
    assert_eq!(
        counted(&telemetry, "catalog"),
        (1, 2, 0),
        "one request, two retries"
    );
}

#[tokio::test]
async fn retries_stop_at_the_attempt_limit_and_skip_unlisted_failures() {
    let catalog = App::start("catalog").await;
    catalog.behaviour.fail_first.store(10, SeqCst);
    catalog.behaviour.fail_status.store(500, SeqCst);
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.retry = Some(RetryConf {
        attempts: Some(2),
        retry_on: Some(vec!["gateway-error".into()]),
        ..RetryConf::default()
    });
    let (_proxy, _) = serve(config(
        vec![],
        vec![out],
        vec![endpoint("catalog", "v1", catalog.port)],
    ))
    .await;
    let answer = Client::default().get(port, "/").await;
    assert_eq!(answer.status, 500);
    assert_eq!(catalog.requests(), 1, "500 is not a gateway error");
    catalog.behaviour.fail_status.store(503, SeqCst);
    let answer = Client::default().get(port, "/").await;
    assert_eq!(answer.status, 503);
    assert_eq!(catalog.requests(), 3, "one retry, then the limit");
}

#[tokio::test]
async fn connect_failures_are_retried_on_another_endpoint() {
    let catalog = App::start("catalog").await;
    let dead = free_port();
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.retry = Some(RetryConf {
        attempts: Some(3),
        retry_on: Some(vec!["connect-failure".into()]),
        backoff: Some(Backoff {
            base: text("1ms"),
            max: text("2ms"),
        }),
        ..RetryConf::default()
    });
    let (_proxy, _) = serve(config(
        vec![],
        vec![out],
        vec![
            endpoint("catalog", "v1", dead),
            endpoint("catalog", "v1", catalog.port),
        ],
    ))
    .await;
    let client = Client::default();
    for _ in 0..10 {
        assert_eq!(client.get(port, "/").await.status, 200);
    }
}

#[tokio::test]
async fn requests_over_the_limits_are_refused_as_overloaded() {
    let catalog = App::start("catalog").await;
    catalog.behaviour.hold.store(true, SeqCst);
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.circuit_breaker = Some(CircuitBreakerConf {
        max_requests: Some(1),
        max_pending_requests: Some(1),
        ..CircuitBreakerConf::default()
    });
    let (_proxy, _) = serve(config(
        vec![],
        vec![out],
        vec![endpoint("catalog", "v1", catalog.port)],
    ))
    .await;
    let client = std::sync::Arc::new(Client::default());
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.get(port, "/1").await }
    });
    eventually(
        "the first request reaches the app",
        Duration::from_secs(5),
        || async { (catalog.behaviour.in_flight.load(SeqCst) == 1).then_some(()) },
    )
    .await;
    let second = tokio::spawn({
        let client = client.clone();
        async move { client.get(port, "/2").await }
    });
    // The second waits as pending; the third finds the queue full.
    let third = eventually("a request is refused", Duration::from_secs(5), || async {
        let answer = client.get(port, "/3").await;
        (answer.status == 503).then_some(answer)
    })
    .await;
    assert_eq!(third.headers[OVERLOADED_HEADER], "true");
    assert!(third.body.contains("maxPendingRequests"), "{}", third.body);
    assert_eq!(
        catalog.requests(),
        1,
        "nothing else reached the application"
    );
    catalog.behaviour.hold.store(false, SeqCst);
    catalog.behaviour.release.notify_waiters();
    assert_eq!(first.await.unwrap().status, 200);
    assert_eq!(second.await.unwrap().status, 200);
    assert_eq!(catalog.requests(), 2);
}

#[tokio::test]
async fn a_failing_endpoint_is_ejected_for_the_ejection_time_and_comes_back() {
    let good = App::start("good").await;
    let bad = App::start("bad").await;
    bad.behaviour.status.store(500, SeqCst);
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.circuit_breaker = Some(CircuitBreakerConf {
        outlier_detection: Some(OutlierDetection {
            consecutive_5xx: Some(2),
            interval: text("1s"),
            base_ejection_time: text("1s"),
            max_ejection_percent: Some(50),
        }),
        ..CircuitBreakerConf::default()
    });
    let (_proxy, _) = serve(config(
        vec![],
        vec![out],
        vec![
            endpoint("catalog", "v1", good.port),
            endpoint("catalog", "v1", bad.port),
        ],
    ))
    .await;
    let client = Client::default();
    // Round robin: two requests to the bad endpoint eject it.
    for _ in 0..4 {
        client.get(port, "/").await;
    }
    assert_eq!(bad.requests(), 2);
    let ejected_at = std::time::Instant::now();
    let mut answered = 0;
    while ejected_at.elapsed() < Duration::from_millis(700) {
        let answer = client.get(port, "/").await;
        assert_eq!(
            answer.status, 200,
            "only the good endpoint serves while the bad is out"
        );
        answered += 1;
    }
    assert!(answered > 5);
    assert_eq!(bad.requests(), 2, "nothing reached the ejected endpoint");
    eventually(
        "the ejected endpoint is tried again",
        Duration::from_secs(5),
        || async {
            client.get(port, "/").await;
            (bad.requests() > 2).then_some(())
        },
    )
    .await;
}

/// A loopback address where connecting hangs: a listener whose accept queue is full drops
/// further connection attempts.
async fn blackhole() -> (std::net::TcpListener, Vec<tokio::net::TcpStream>, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut held = Vec::new();
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_millis(100),
            tokio::net::TcpStream::connect(loopback(port)),
        )
        .await;
        match attempt {
            Ok(Ok(stream)) => held.push(stream),
            _ => break,
        }
        assert!(held.len() < 10_000, "the accept queue never filled");
    }
    (listener, held, port)
}

#[tokio::test]
async fn an_endpoint_that_never_accepts_gets_a_504_naming_the_connect_timeout() {
    let (_listener, _held, port_of_hole) = blackhole().await;
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.timeout = Some(TimeoutConf {
        connect: text("200ms"),
        ..TimeoutConf::default()
    });
    let (_proxy, _) = serve(config(
        vec![],
        vec![out],
        vec![endpoint("catalog", "v1", port_of_hole)],
    ))
    .await;
    let answer = Client::default().get(port, "/").await;
    assert_eq!(answer.status, 504, "{answer:?}");
    assert!(
        answer.body.contains("connect timeout of 200ms expired"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn idle_upstream_connections_are_closed_after_the_idle_timeout() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A keep-alive upstream that counts the connections its peer closed.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap().port();
    let closed = Arc::new(AtomicUsize::new(0));
    tokio::spawn({
        let closed = closed.clone();
        async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let closed = closed.clone();
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    loop {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {
                                let _ = stream
                                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                                    .await;
                            }
                        }
                    }
                    closed.fetch_add(1, SeqCst);
                });
            }
        }
    });
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.timeout = Some(TimeoutConf {
        idle: text("200ms"),
        ..TimeoutConf::default()
    });
    let (_proxy, _) = serve(config(
        vec![],
        vec![out],
        vec![endpoint("catalog", "v1", upstream)],
    ))
    .await;
    assert_eq!(Client::default().get(port, "/").await.status, 200);
    assert_eq!(
        closed.load(SeqCst),
        0,
        "the connection is kept for the next request"
    );
    eventually(
        "the idle connection is closed",
        Duration::from_secs(5),
        || async { (closed.load(SeqCst) == 1).then_some(()) },
    )
    .await;
}

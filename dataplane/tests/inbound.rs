//! RateLimit and FaultInjection on the inbound side, on real sockets.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use support::*;
use weft_dp::policy::telemetry::SOURCE_HEADER;
use weft_model::duration::DurationText;
use weft_model::policy::fault_injection::{Abort, Delay, FaultInjectionConf};
use weft_model::policy::rate_limit::{OnLimit, RateLimitConf};
use weft_model::proxy::PerSource;

fn limit(requests: i64, status: Option<i64>) -> RateLimitConf {
    RateLimitConf {
        requests: Some(requests),
        interval: Some(DurationText("1m".into())),
        on_limit: status.map(|status| OnLimit {
            status: Some(status),
        }),
    }
}

#[tokio::test]
async fn each_source_has_its_own_bucket_and_over_the_limit_gets_retry_after() {
    let app = App::start("web").await;
    let port = free_port();
    let mut listener = inbound(port, app.port, "web");
    listener.rate_limit = PerSource {
        default: Some(limit(3, None)),
        sources: BTreeMap::from([("orders".to_string(), limit(1, Some(503)))]),
    };
    let (_proxy, _) = serve(config(vec![listener], vec![], vec![])).await;
    let client = Client::default();
    for _ in 0..3 {
        assert_eq!(client.get(port, "/").await.status, 200);
    }
    let limited = client.get(port, "/").await;
    assert_eq!(limited.status, 429);
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    // orders has its own bucket (and status); web's other callers share the default one.
    let from_orders = [(SOURCE_HEADER, "orders")];
    assert_eq!(client.get_with(port, "/", &from_orders).await.status, 200);
    assert_eq!(client.get_with(port, "/", &from_orders).await.status, 503);
    assert_eq!(
        app.requests(),
        4,
        "limited requests never reach the application"
    );
}

#[tokio::test]
async fn aborts_answer_without_the_application_and_delays_hold_requests() {
    let app = App::start("web").await;
    let port = free_port();
    let mut listener = inbound(port, app.port, "web");
    listener.fault_injection = PerSource {
        default: Some(FaultInjectionConf {
            delay: None,
            abort: Some(Abort {
                percent: Some(100.0),
                status: Some(503),
            }),
        }),
        sources: BTreeMap::from([(
            "catalog".to_string(),
            FaultInjectionConf {
                delay: Some(Delay {
                    percent: Some(100.0),
                    value: Some(DurationText("300ms".into())),
                }),
                abort: None,
            },
        )]),
    };
    let (_proxy, _) = serve(config(vec![listener], vec![], vec![])).await;
    let client = Client::default();
    let aborted = client.get(port, "/").await;
    assert_eq!(aborted.status, 503);
    assert!(aborted.body.contains("fault injected"), "{}", aborted.body);
    assert_eq!(app.requests(), 0);
    let started = Instant::now();
    let delayed = client
        .get_with(port, "/", &[(SOURCE_HEADER, "catalog")])
        .await;
    assert_eq!(delayed.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the delay was applied"
    );
    assert_eq!(app.requests(), 1);
    // The application never sees the mesh's own header.
    assert!(delayed.json()["headers"].get(SOURCE_HEADER).is_none());
    let _ = app.behaviour.requests.load(SeqCst);
}

//! RateLimit and FaultInjection on the inbound side, on real sockets.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use support::*;
use weft_dp::policy::telemetry::SOURCE_HEADER;
use weft_model::duration::DurationText;
use weft_model::mesh::MtlsMode;
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
    let mesh = TestMesh::new("shop");
    let app = App::start("web").await;
    let (_web, _, port) = callee(&mesh, "web", app.port, MtlsMode::Permissive, |listener| {
        listener.rate_limit = PerSource {
            default: Some(limit(3, None)),
            sources: BTreeMap::from([("orders".to_string(), limit(1, Some(503)))]),
        };
    })
    .await;
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
    // orders, proven by its certificate, has its own bucket (and status).
    let (_orders, _, through_orders) = caller(&mesh, "orders", "web", port).await;
    assert_eq!(client.get(through_orders, "/").await.status, 200);
    assert_eq!(client.get(through_orders, "/").await.status, 503);
    // Naming orders in a header is not being orders: the shared bucket is empty.
    let forged = client
        .get_with(port, "/", &[(SOURCE_HEADER, "orders")])
        .await;
    assert_eq!(forged.status, 429);
    assert_eq!(
        app.requests(),
        4,
        "limited requests never reach the application"
    );
}

#[tokio::test]
async fn aborts_answer_without_the_application_and_delays_hold_requests() {
    let mesh = TestMesh::new("shop");
    let app = App::start("web").await;
    let (_web, _, port) = callee(&mesh, "web", app.port, MtlsMode::Permissive, |listener| {
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
    })
    .await;
    let client = Client::default();
    let aborted = client.get(port, "/").await;
    assert_eq!(aborted.status, 503);
    assert!(aborted.body.contains("fault injected"), "{}", aborted.body);
    assert_eq!(app.requests(), 0);
    let (_catalog, _, through_catalog) = caller(&mesh, "catalog", "web", port).await;
    let started = Instant::now();
    let delayed = client.get(through_catalog, "/").await;
    assert_eq!(delayed.status, 200, "{delayed:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the delay was applied"
    );
    assert_eq!(app.requests(), 1);
    // The application never sees the mesh's own header.
    assert!(delayed.json()["headers"].get(SOURCE_HEADER).is_none());
    let _ = app.behaviour.requests.load(SeqCst);
}

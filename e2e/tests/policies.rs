//! Every policy kind, written through the REST API, changes what happens to real requests
//! through the shop's proxies (TrafficPermission and Rollout act with their own features).

use std::time::Duration;

use serde_json::Value;
use weft_e2e::api::{self, get_with, metric_sum};
use weft_e2e::shop::{Ports, Shop, ShopOptions};
use weft_e2e::wait_until;

/// The call to `service` in an application's answer.
fn call<'a>(body: &'a Value, service: &str) -> &'a Value {
    body["calls"]
        .as_array()
        .and_then(|calls| calls.iter().find(|c| c["service"] == service))
        .unwrap_or(&Value::Null)
}

const PHASE_ONE: &str = r#"
apiVersion: weft.dev/v1alpha1
kind: TrafficRoute
metadata: {name: catalog-canary, mesh: shop}
spec:
  targetRef: {kind: Mesh}
  to:
    - targetRef: {kind: Service, name: catalog}
      rules:
        - matches: [{path: {prefix: /api}, headers: [{name: x-canary, present: true}]}]
          backends: [{service: catalog, tags: {version: v2}}]
        - matches: [{path: {prefix: /}}]
          backends: [{service: catalog, tags: {version: v1}}]
---
apiVersion: weft.dev/v1alpha1
kind: LoadBalancing
metadata: {name: local-inventory, mesh: shop}
spec:
  targetRef: {kind: Mesh}
  to:
    - targetRef: {kind: Service, name: inventory}
      default:
        type: RingHash
        hashOn: {header: x-user-id}
        locality: {preferLocalZone: true}
---
apiVersion: weft.dev/v1alpha1
kind: HealthCheck
metadata: {name: inventory-health, mesh: shop}
spec:
  targetRef: {kind: Mesh}
  to:
    - targetRef: {kind: Service, name: inventory}
      default: {interval: 200ms, timeout: 150ms, unhealthyThreshold: 2, http: {path: /health, expectedStatuses: [200]}}
---
apiVersion: weft.dev/v1alpha1
kind: Trace
metadata: {name: everything, mesh: shop}
spec:
  targetRef: {kind: Mesh}
  default: {backend: {otlp: {endpoint: "http://127.0.0.1:9"}}, sampling: 100}
---
apiVersion: weft.dev/v1alpha1
kind: AccessLog
metadata: {name: web-calls, mesh: shop}
spec:
  targetRef: {kind: Service, name: web}
  to:
    - targetRef: {kind: Mesh}
      default: {backend: {file: {path: "ACCESS_LOG"}}, format: json}
"#;

/// Health checks that inventory cannot pass (it answers 200, not 204).
const PHASE_TWO: &str = r#"
apiVersion: weft.dev/v1alpha1
kind: HealthCheck
metadata: {name: inventory-health, mesh: shop}
spec:
  targetRef: {kind: Mesh}
  to:
    - targetRef: {kind: Service, name: inventory}
      default: {interval: 200ms, timeout: 150ms, unhealthyThreshold: 2, http: {path: /health, expectedStatuses: [204]}}
"#;

const PHASE_THREE: &str = r#"
apiVersion: weft.dev/v1alpha1
kind: FaultInjection
metadata: {name: faults, mesh: shop}
spec:
  targetRef: {kind: Service, name: orders}
  from:
    - targetRef: {kind: Service, name: web}
      default: {abort: {percent: 100, status: 503}}
---
apiVersion: weft.dev/v1alpha1
kind: Retry
metadata: {name: orders-retries, mesh: shop}
spec:
  targetRef: {kind: Mesh}
  to:
    - targetRef: {kind: Service, name: orders}
      default: {attempts: 3, backoff: {base: 1ms, max: 5ms}, retryOn: ["503"]}
---
apiVersion: weft.dev/v1alpha1
kind: CircuitBreaker
metadata: {name: orders-breaker, mesh: shop}
spec:
  targetRef: {kind: Mesh}
  to:
    - targetRef: {kind: Service, name: orders}
      default: {outlierDetection: {consecutive5xx: 9, baseEjectionTime: 1m, maxEjectionPercent: 100}}
---
apiVersion: weft.dev/v1alpha1
kind: RateLimit
metadata: {name: inventory-limit, mesh: shop}
spec:
  targetRef: {kind: Service, name: inventory}
  from:
    - targetRef: {kind: Mesh}
      default: {requests: 2, interval: 1m}
"#;

/// Catalog held up by a fault, and web that will not wait for it.
const PHASE_FOUR: &str = r#"
apiVersion: weft.dev/v1alpha1
kind: FaultInjection
metadata: {name: slow-catalog, mesh: shop}
spec:
  targetRef: {kind: Service, name: catalog}
  from:
    - targetRef: {kind: Service, name: web}
      default: {delay: {percent: 100, value: 1s}}
---
apiVersion: weft.dev/v1alpha1
kind: Timeout
metadata: {name: impatient-web, mesh: shop}
spec:
  targetRef: {kind: Service, name: web}
  to:
    - targetRef: {kind: Service, name: catalog}
      default: {request: 300ms}
"#;

#[test]
fn every_policy_kind_shapes_real_traffic() {
    let work = tempfile::tempdir().unwrap();
    let access_log = work.path().join("web-access.log");
    let mut shop = Shop::start(ShopOptions {
        work_dir: work.path().to_path_buf(),
        ports: Ports::Free,
        admin_password: "e2e-admin-password".into(),
        console_dir: None,
        load_rps: 0.0,
        canary_route: false,
        ..ShopOptions::default()
    });
    let api = shop.global.api();
    let web = shop.web().url().trim_end_matches('/').to_string();

    // Phase 1: routing, locality, health checks that pass, traces, access logs.
    api.apply_all(&PHASE_ONE.replace("ACCESS_LOG", &access_log.display().to_string()));
    shop.web().wait_for_config("phase one", |config| {
        config["config"]["trace"]["sampling"].as_f64() == Some(100.0)
            && config["config"]["outbound"][0]["accessLog"].is_object()
    });
    // TrafficRoute: /api with x-canary goes to v2, everything else to v1.
    wait_until("the canary rule routes", Duration::from_secs(10), || {
        let (_, body) = get_with(&format!("{web}/api/items"), &[("x-canary", "1")])?;
        (call(&body, "catalog")["version"] == "v2").then_some(())
    });
    for _ in 0..10 {
        let (_, body) = get_with(&format!("{web}/api/items"), &[("x-canary", "1")]).unwrap();
        assert_eq!(call(&body, "catalog")["version"], "v2", "{body}");
        let (_, body) = get_with(&format!("{web}/items"), &[("x-user-id", "ann")]).unwrap();
        assert_eq!(call(&body, "catalog")["version"], "v1", "{body}");
        // LoadBalancing: catalog v1 (east) calls the inventory of its own zone.
        let inventory = call(call(&body, "catalog"), "inventory");
        assert_eq!(inventory["zone"], "east", "{body}");
        // Trace: one trace id from web's inbound to inventory.
        let trace = body["traceId"].as_str().expect("web sees a traceparent");
        assert_eq!(call(&body, "catalog")["traceId"], trace);
        assert_eq!(inventory["traceId"], trace);
    }
    // AccessLog: web's calls are logged as JSON lines.
    let logged = wait_until("access log lines", Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&access_log).ok()?;
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (lines.len() >= 20).then_some(lines)
    });
    assert!(
        logged
            .iter()
            .any(|l| l["destination"] == "catalog" && l["status"] == 200)
    );
    // HealthCheck: catalog's proxies check inventory; global shows the result.
    wait_until(
        "inventory passes its health checks",
        Duration::from_secs(15),
        || {
            let (_, services) = api.get("/api/v1/meshes/shop/services").ok()?;
            let inventory = services["items"]
                .as_array()?
                .iter()
                .find(|s| s["name"] == "inventory")?
                .clone();
            (inventory["health"] == "healthy").then_some(())
        },
    );

    // Phase 2: checks inventory fails take it out of the balancer, and global says so.
    api.apply_all(PHASE_TWO);
    wait_until(
        "inventory fails its health checks",
        Duration::from_secs(15),
        || {
            let (_, services) = api.get("/api/v1/meshes/shop/services").ok()?;
            let inventory = services["items"]
                .as_array()?
                .iter()
                .find(|s| s["name"] == "inventory")?
                .clone();
            (inventory["health"] == "unhealthy" && inventory["unhealthyInstances"] == 2)
                .then_some(())
        },
    );
    let (_, body) = get_with(&format!("{web}/items"), &[]).unwrap();
    let inventory = call(call(&body, "catalog"), "inventory");
    assert_eq!(inventory["status"], 503, "{body}");
    assert!(
        inventory["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no healthy endpoint"),
        "{body}"
    );
    api.apply_all(&PHASE_TWO.replace("[204]", "[200]"));

    // Phase 3: faults, retries, ejection, timeouts, rate limits.
    api.apply_all(PHASE_THREE);
    shop.web().wait_for_config("phase three", |config| {
        config["config"]["outbound"]
            .as_array()
            .is_some_and(|all| all.iter().any(|o| o["retry"]["attempts"] == 3))
    });
    wait_until(
        "orders is aborted by fault injection",
        Duration::from_secs(10),
        || {
            let (_, body) = get_with(&format!("{web}/items"), &[])?;
            let orders = call(&body, "orders");
            (orders["status"] == 503 && orders["error"].as_str()?.contains("fault injected"))
                .then_some(())
        },
    );
    // Retry: each failed orders call was tried three times.
    let web_metrics = || {
        api::text(&format!("{}/metrics", shop.web().admin_url()))
            .unwrap()
            .1
    };
    let retries = metric_sum(
        &web_metrics(),
        &["weft_dp_retries_total", "destination_service=\"orders\""],
    );
    assert!(retries >= 2.0, "retries of orders: {retries}");
    // CircuitBreaker: after nine failures in a row, orders is ejected.
    let ejected = wait_until("orders is ejected", Duration::from_secs(10), || {
        let (_, body) = get_with(&format!("{web}/items"), &[])?;
        let orders = call(&body, "orders").clone();
        orders["error"]
            .as_str()?
            .contains("no healthy endpoint")
            .then_some(orders)
    });
    assert_eq!(ejected["status"], 503);
    // RateLimit: inventory takes two requests a minute from its callers, then says 429.
    let limited = wait_until(
        "inventory limits its callers",
        Duration::from_secs(10),
        || {
            let (_, body) = get_with(&format!("{web}/items"), &[])?;
            let inventory = call(call(&body, "catalog"), "inventory").clone();
            (inventory["status"] == 429).then_some(inventory)
        },
    );
    assert!(
        limited["error"]
            .as_str()
            .unwrap_or_default()
            .contains("rate limit"),
        "{limited}"
    );

    // Phase 4: Timeout: catalog is held 1 s by a fault; web gives up after 300 ms.
    api.apply_all(PHASE_FOUR);
    let catalog = wait_until("web times out on catalog", Duration::from_secs(10), || {
        let (_, body) = get_with(&format!("{web}/items"), &[])?;
        let catalog = call(&body, "catalog").clone();
        (catalog["status"] == 504).then_some(catalog)
    });
    assert!(
        catalog["error"]
            .as_str()
            .unwrap()
            .contains("request timeout of 300ms"),
        "{catalog}"
    );
    shop.stop();
}

//! Cross-process: canary rollouts of catalog v1 (zone east) → v2 (zone west) driven by
//! weft-global's controller from the proxies' own telemetry, observed in real requests.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_e2e::api::{self, Api};
use weft_e2e::shop::{Ports, Shop, ShopOptions};
use weft_e2e::wait_until;

fn start(work: &tempfile::TempDir, load_rps: f64) -> Shop {
    Shop::start(ShopOptions {
        work_dir: work.path().to_path_buf(),
        ports: Ports::Free,
        admin_password: "e2e-admin-password".into(),
        load_rps,
        no_faults: true,
        ..ShopOptions::default()
    })
}

fn rollout(name: &str, service: &str, steps: &str, rest: &str) -> String {
    format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Rollout\nmetadata: {{name: {name}, mesh: shop}}\nspec:\n  service: {service}\n  stable: {{tags: {{version: v1}}}}\n  canary: {{tags: {{version: v2}}}}\n  steps: {steps}\n{rest}"
    )
}

fn path(name: &str) -> String {
    format!("/api/v1/meshes/shop/rollouts/{name}")
}

fn status(api: &Api, name: &str) -> Value {
    let (code, body) = api.get(&path(name)).expect("global answers");
    assert_eq!(code, 200, "{body}");
    body["status"].clone()
}

fn wait_for_phase(api: &Api, name: &str, phase: &str, within: Duration) -> Value {
    wait_until(&format!("rollout {name} to be {phase}"), within, || {
        let status = status(api, name);
        (status["phase"] == phase).then_some(status)
    })
}

/// Every decision of a rollout, oldest first, across pages.
fn history(api: &Api, name: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut uri = format!("{}/history?limit=50", path(name));
        if let Some(token) = &next {
            uri.push_str(&format!("&continue={token}"));
        }
        let (code, page) = api.get(&uri).expect("global answers");
        assert_eq!(code, 200, "{page}");
        entries.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["continue"].as_str() {
            Some(token) => next = Some(token.to_string()),
            None => break,
        }
    }
    entries.reverse();
    entries
}

/// The catalog versions that served `count` requests through web.
fn catalog_versions(shop: &Shop, count: usize) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for _ in 0..count {
        let (_, body) = api::text(&shop.web().url()).expect("web answers");
        let value: Value = serde_json::from_str(&body).unwrap_or_default();
        let version = value["calls"]
            .as_array()
            .and_then(|calls| calls.iter().find(|call| call["service"] == "catalog"))
            .and_then(|call| call["version"].as_str())
            .unwrap_or("none")
            .to_string();
        *seen.entry(version).or_insert(0) += 1;
    }
    seen
}

/// Waits until every one of 50 requests reaches `version`, then checks 200 more.
fn all_requests_reach(shop: &Shop, version: &str) {
    wait_until(
        &format!("every request to reach catalog {version}"),
        Duration::from_secs(30),
        || (catalog_versions(shop, 50).get(version) == Some(&50)).then_some(()),
    );
    let seen = catalog_versions(shop, 200);
    assert_eq!(seen.get(version), Some(&200), "{seen:?}");
}

/// The weight changes in a rollout's history, in order.
fn weight_changes(history: &[Value]) -> Vec<(u64, u64)> {
    history
        .iter()
        .filter(|entry| entry["weightBefore"] != entry["weightAfter"])
        .map(|entry| {
            (
                entry["weightBefore"].as_u64().unwrap(),
                entry["weightAfter"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_healthy_canary_is_promoted_step_by_step() {
    let work = tempfile::tempdir().unwrap();
    let shop = start(&work, 40.0);
    let api = shop.global.api();
    api.apply(
        &path("catalog"),
        &rollout(
            "catalog",
            "catalog",
            "[25, 50, 100]",
            "  interval: 2s\n  gates: {successRate: 95, p99: 1s, minRequests: 5}\n",
        ),
    );
    wait_for_phase(&api, "catalog", "Promoted", Duration::from_secs(90));
    // Every step in order, each reached after a passed check of the canary's own traffic.
    let history = history(&api, "catalog");
    assert_eq!(
        weight_changes(&history),
        [(0, 25), (25, 50), (50, 100)],
        "{history:#?}"
    );
    let checks: Vec<&Value> = history
        .iter()
        .filter(|entry| entry["check"].is_object())
        .collect();
    assert!(checks.len() >= 3, "{history:#?}");
    for entry in &checks {
        let check = &entry["check"];
        assert_eq!(entry["by"], "controller");
        assert_eq!(check["successRateGate"], 95.0);
        if check["verdict"] == "Passed" {
            assert!(
                check["measured"]["requests"].as_u64().unwrap() >= 5,
                "{check}"
            );
            assert_eq!(check["measured"]["successRate"], 100.0, "{check}");
        }
    }
    // The generated route sends everything to v2, and real requests show it.
    let (_, route) = api
        .get("/api/v1/meshes/shop/trafficroutes/catalog")
        .unwrap();
    assert_eq!(route["metadata"]["labels"]["weft.dev/rollout"], "catalog");
    all_requests_reach(&shop, "v2");
}

#[test]
fn a_failing_canary_is_rolled_back_by_itself() {
    let work = tempfile::tempdir().unwrap();
    let shop = start(&work, 60.0);
    let api = shop.global.api();
    // catalog v2 answers one request in five with a 500.
    api.apply(
        "/api/v1/meshes/shop/faultinjections/v2-fails",
        "apiVersion: weft.dev/v1alpha1\nkind: FaultInjection\nmetadata: {name: v2-fails, mesh: shop}\nspec:\n  targetRef: {kind: Dataplane, tags: {service: catalog, version: v2}}\n  from:\n    - targetRef: {kind: Mesh}\n      default: {abort: {percent: 20, status: 500}}\n",
    );
    api.apply(
        &path("catalog"),
        &rollout(
            "catalog",
            "catalog",
            "[50, 100]",
            "  interval: 3s\n  gates: {successRate: 95, minRequests: 20}\n  maxFailedChecks: 2\n",
        ),
    );
    let status = wait_for_phase(&api, "catalog", "RolledBack", Duration::from_secs(90));
    assert_eq!(status["canaryWeight"], 0);
    assert!(
        status["reason"]
            .as_str()
            .unwrap()
            .contains("2 failed checks in a row"),
        "{status}"
    );
    // The failed checks measured what the canary really did: about 80 % success.
    let history = history(&api, "catalog");
    let failed: Vec<f64> = history
        .iter()
        .filter(|entry| entry["check"]["verdict"] == "Failed")
        .map(|entry| entry["check"]["measured"]["successRate"].as_f64().unwrap())
        .collect();
    assert_eq!(failed.len(), 2, "{history:#?}");
    for rate in &failed {
        assert!((68.0..=92.0).contains(rate), "measured {rate} %");
    }
    let mean = failed.iter().sum::<f64>() / failed.len() as f64;
    assert!(
        (72.0..=88.0).contains(&mean),
        "measured {mean} % on average"
    );
    assert_eq!(weight_changes(&history), [(0, 50), (50, 0)], "{history:#?}");
    all_requests_reach(&shop, "v1");
}

#[test]
fn without_traffic_a_rollout_holds_or_fails_as_told() {
    let work = tempfile::tempdir().unwrap();
    let shop = start(&work, 0.0);
    let api = shop.global.api();
    api.apply(
        &path("catalog"),
        &rollout(
            "catalog",
            "catalog",
            "[50, 100]",
            "  interval: 1s\n  gates: {minRequests: 5}\n  onNoTraffic: Hold\n",
        ),
    );
    api.apply(
        &path("inventory"),
        &rollout(
            "inventory",
            "inventory",
            "[50, 100]",
            "  interval: 1s\n  gates: {minRequests: 5}\n  onNoTraffic: Fail\n  maxFailedChecks: 1\n",
        ),
    );
    let holding = wait_for_phase(
        &api,
        "catalog",
        "WaitingForTraffic",
        Duration::from_secs(30),
    );
    assert_eq!(holding["canaryWeight"], 50);
    assert_eq!(
        holding["reason"],
        "0 canary requests in the last 1 s, 5 needed"
    );
    let failed = wait_for_phase(&api, "inventory", "RolledBack", Duration::from_secs(30));
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("(onNoTraffic: Fail)"),
        "{failed}"
    );
    // Holding is not a stall: the rollout keeps checking, and says so each time.
    let checks = |api: &Api| {
        history(api, "catalog")
            .iter()
            .filter(|entry| entry["check"]["verdict"] == "NoTraffic")
            .count()
    };
    let before = checks(&api);
    wait_until("another check", Duration::from_secs(15), || {
        (checks(&api) > before).then_some(())
    });
    drop(shop);
}

#[test]
fn pause_resume_restart_and_abort() {
    let work = tempfile::tempdir().unwrap();
    let mut shop = start(&work, 30.0);
    let api = shop.global.api();
    api.apply(
        &path("catalog"),
        &rollout(
            "catalog",
            "catalog",
            "[10, 20, 30, 40, 50, 60, 100]",
            "  interval: 2s\n  gates: {successRate: 90, minRequests: 3}\n",
        ),
    );
    wait_until("the second step", Duration::from_secs(60), || {
        (status(&api, "catalog")["step"].as_u64()? >= 1).then_some(())
    });

    // Pause: the answer is the new state, and nothing moves while paused.
    let (code, paused) = api
        .post_json(&format!("{}/pause", path("catalog")), Value::Null)
        .unwrap();
    assert_eq!(code, 200, "{paused}");
    assert_eq!(paused["phase"], "Paused");
    assert_eq!(paused["pausedBy"], "admin");
    let weight = paused["canaryWeight"].clone();
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(6) {
        let now = status(&api, "catalog");
        assert_eq!(
            (&now["phase"], &now["canaryWeight"]),
            (&json!("Paused"), &weight)
        );
    }
    // Resume continues from the same step.
    let (code, resumed) = api
        .post_json(&format!("{}/resume", path("catalog")), Value::Null)
        .unwrap();
    assert_eq!(code, 200, "{resumed}");
    assert_eq!(resumed["phase"], "Progressing");
    assert_eq!(resumed["canaryWeight"], weight);
    let step = resumed["step"].as_u64().unwrap();
    wait_until(
        "the next step after resuming",
        Duration::from_secs(30),
        || (status(&api, "catalog")["step"].as_u64()? == step + 1).then_some(()),
    );

    // A restarted global resumes from the stored state: no step repeated or skipped.
    let before = status(&api, "catalog")["step"].as_u64().unwrap();
    shop.global.restart();
    let api = shop.global.api();
    assert!(status(&api, "catalog")["step"].as_u64().unwrap() >= before);
    wait_until("a step after the restart", Duration::from_secs(60), || {
        (status(&api, "catalog")["step"].as_u64()? > before).then_some(())
    });
    let changes = weight_changes(&history(&api, "catalog"));
    let expected: Vec<(u64, u64)> = [0, 10, 20, 30, 40, 50, 60, 100]
        .windows(2)
        .map(|pair| (pair[0], pair[1]))
        .take(changes.len())
        .collect();
    assert_eq!(changes, expected, "every step once, in order");

    // Abort: back to stable at once; an aborted rollout cannot be promoted.
    let (code, aborted) = api
        .post_json(&format!("{}/abort", path("catalog")), Value::Null)
        .unwrap();
    assert_eq!(code, 200, "{aborted}");
    assert_eq!(
        (&aborted["phase"], &aborted["canaryWeight"]),
        (&json!("Aborted"), &json!(0))
    );
    all_requests_reach(&shop, "v1");
    let (code, refused) = api
        .post_json(&format!("{}/promote", path("catalog")), Value::Null)
        .unwrap();
    assert_eq!(code, 409, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot promote a rollout that is Aborted"),
        "{refused}"
    );
    // Who did what is in the history and in the audit log.
    let people: Vec<String> = history(&api, "catalog")
        .iter()
        .filter(|entry| entry["by"] == "admin")
        .map(|entry| entry["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(people.len(), 3, "{people:?}");
    let (_, audit) = api.get("/api/v1/audit?kind=Rollout").unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["abort", "resume", "pause", "create"]);
}

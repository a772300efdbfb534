//! A flood of wrong passwords against a real weft-global: the server hashes only a few at a
//! time, turns the rest away with 429 and `retry-after`, keeps its memory bounded, and keeps
//! answering everyone else.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use weft_e2e::api::{self, Api};
use weft_e2e::free_port;
use weft_e2e::topology::{Global, GlobalOptions};

const PASSWORD: &str = "flood-test-password";

/// Resident memory of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// Status and `retry-after` of one wrong-password login.
fn wrong_login(base: &str, user: &str) -> (u16, Option<String>) {
    let response = api::agent()
        .post(&format!("{base}/api/v1/auth/login"))
        .header("Content-Type", "application/json")
        .send(serde_json::json!({"username": user, "password": "wrong-password"}).to_string());
    match response {
        Ok(response) => (
            response.status().as_u16(),
            response
                .headers()
                .get("retry-after")
                .and_then(|value| value.to_str().ok())
                .map(str::to_string),
        ),
        Err(_) => (0, None),
    }
}

#[test]
fn a_login_flood_is_turned_away_without_hurting_anyone_else() {
    let work = tempfile::tempdir().unwrap();
    let global = Global::start(
        work.path(),
        GlobalOptions {
            http_port: free_port(),
            grpc_port: free_port(),
            admin_password: PASSWORD.into(),
            console_dir: None,
            database_url: None,
        },
    );
    let base = global.url();
    let admin = Api::login(&base, "admin", PASSWORD).unwrap();
    let pid = global.process.pid().unwrap();
    let rss_before = rss_kib(pid);

    // Meanwhile a user reads the API and the health endpoint, and must always get answers.
    let flooding = Arc::new(AtomicBool::new(true));
    let reader = {
        let (flooding, admin, base) = (flooding.clone(), admin.token().to_string(), base.clone());
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            let mut failures = 0;
            while flooding.load(Ordering::SeqCst) {
                let started = Instant::now();
                let whoami = api::get_with(
                    &format!("{base}/api/v1/whoami"),
                    &[("Authorization", &format!("Bearer {admin}"))],
                );
                match whoami {
                    Some((200, _)) => latencies.push(started.elapsed()),
                    _ => failures += 1,
                }
                if api::status(&format!("{base}/healthz")) != Some(200) {
                    failures += 1;
                }
            }
            (latencies, failures)
        })
    };

    // 500 wrong passwords at once: from one address, for many user names and for admin.
    let threads: Vec<_> = (0..500)
        .map(|n| {
            let base = base.clone();
            std::thread::spawn(move || {
                let user = if n % 2 == 0 {
                    "admin".to_string()
                } else {
                    format!("guess-{n}")
                };
                wrong_login(&base, &user)
            })
        })
        .collect();
    let outcomes: Vec<(u16, Option<String>)> = threads
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    flooding.store(false, Ordering::SeqCst);
    let (mut latencies, failures) = reader.join().unwrap();
    let rss_after = rss_kib(pid);

    let refused = outcomes.iter().filter(|(status, _)| *status == 429).count();
    let wrong = outcomes.iter().filter(|(status, _)| *status == 401).count();
    assert_eq!(
        refused + wrong,
        outcomes.len(),
        "every attempt is a 401 or a 429: {outcomes:?}"
    );
    // 30 attempts a minute from one address: the rest are turned away, each saying when to
    // come back.
    assert!(wrong <= 30, "{wrong} passwords were checked");
    assert!(
        outcomes
            .iter()
            .filter(|(status, _)| *status == 429)
            .all(|(_, retry)| retry
                .as_deref()
                .is_some_and(|seconds| seconds.parse::<u64>().is_ok())),
        "429s carry retry-after"
    );
    // A later attempt, even with the right password, waits its turn.
    let (status, _) = wrong_login(&base, "admin");
    assert_eq!(status, 429);
    // Everyone else was answered throughout, and memory stayed put.
    assert_eq!(failures, 0, "other requests failed during the flood");
    assert!(!latencies.is_empty());
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    eprintln!(
        "flood: {wrong} checked, {refused} refused; {} reads during it, p99 {p99:?}; RSS {rss_before} → {rss_after} KiB",
        latencies.len()
    );
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} to {rss_after} KiB"
    );
}

//! Open-loop load: requests start on a fixed schedule whether or not earlier ones finished.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[derive(clap::Args)]
pub struct LoadArgs {
    /// URL to request, e.g. http://127.0.0.1:8080/
    #[arg(long)]
    target: String,
    /// Requests per second.
    #[arg(long, default_value_t = 20.0)]
    rps: f64,
    /// Print a summary every this many seconds (0: never).
    #[arg(long, default_value_t = 10)]
    report_seconds: u64,
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let target: Uri = args
        .target
        .parse()
        .with_context(|| format!("invalid --target {:?}", args.target))?;
    if !(args.rps > 0.0 && args.rps <= 100_000.0) {
        anyhow::bail!("--rps must be above 0 and at most 100000");
    }
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let counts = Arc::new(Counts::default());
    let mut schedule = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rps));
    schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut report = tokio::time::interval(Duration::from_secs(args.report_seconds.max(1)));
    report.tick().await;
    let shutdown = crate::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = schedule.tick() => {
                let client = client.clone();
                let counts = counts.clone();
                let target = target.clone();
                tokio::spawn(async move {
                    let ok = match hyper::Request::get(target).body(Empty::new()) {
                        Ok(request) => match tokio::time::timeout(Duration::from_secs(10), client.request(request)).await {
                            Ok(Ok(response)) => {
                                let success = response.status().is_success();
                                let _ = response.into_body().collect().await;
                                success
                            }
                            _ => false,
                        },
                        Err(_) => false,
                    };
                    let counter = if ok { &counts.ok } else { &counts.failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                });
            }
            _ = report.tick(), if args.report_seconds > 0 => {
                let ok = counts.ok.swap(0, Ordering::Relaxed);
                let failed = counts.failed.swap(0, Ordering::Relaxed);
                eprintln!("weft-demo load: {ok} ok, {failed} failed in the last {}s", args.report_seconds);
            }
            _ = &mut shutdown => return Ok(()),
        }
    }
}

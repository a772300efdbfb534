//! `weft-demo bench`: an open-loop benchmark client. Requests start on a fixed schedule; each
//! one's latency counts from when it should have started, so a stall shows as latency instead
//! of silently lowering the rate (no coordinated omission). Prints one JSON line.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use tokio::time::Instant;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// URL to request.
    #[arg(long)]
    target: String,
    /// Requests per second.
    #[arg(long, default_value_t = 1000.0)]
    rps: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds sent first and not measured (connections, caches).
    #[arg(long, default_value_t = 1.0)]
    warmup_seconds: f64,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let target: Uri = args
        .target
        .parse()
        .with_context(|| format!("invalid --target {:?}", args.target))?;
    if !(args.rps > 0.0 && args.rps <= 100_000.0) {
        anyhow::bail!("--rps must be above 0 and at most 100000");
    }
    if !(args.seconds > 0.0 && args.seconds <= 3600.0 && args.warmup_seconds >= 0.0) {
        anyhow::bail!("--seconds must be above 0 and at most 3600; --warmup-seconds not negative");
    }
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .build_http::<Empty<Bytes>>();
    let interval = Duration::from_secs_f64(1.0 / args.rps);
    let warmup = (args.warmup_seconds * args.rps) as u64;
    let measured = (args.seconds * args.rps) as u64;
    let start = Instant::now() + Duration::from_millis(10);
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..warmup + measured {
        let intended = start + interval.mul_f64(index as f64);
        tokio::time::sleep_until(intended).await;
        let client = client.clone();
        let target = target.clone();
        tasks.spawn(async move {
            let ok = match hyper::Request::get(target).body(Empty::new()) {
                Ok(request) => {
                    match tokio::time::timeout(Duration::from_secs(10), client.request(request))
                        .await
                    {
                        Ok(Ok(response)) => {
                            let success = response.status().is_success();
                            success && response.into_body().collect().await.is_ok()
                        }
                        _ => false,
                    }
                }
                Err(_) => false,
            };
            let micros = u64::try_from(intended.elapsed().as_micros()).unwrap_or(u64::MAX);
            (index >= warmup, ok, micros)
        });
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut requests, mut errors) = (0u64, 0u64);
    while let Some(done) = tasks.join_next().await {
        let (counted, ok, micros) = done?;
        if !counted {
            continue;
        }
        requests += 1;
        if !ok {
            errors += 1;
        }
        histogram.saturating_record(micros.max(1));
    }
    let elapsed = (Instant::now() - start).as_secs_f64();
    println!(
        "{}",
        json!({
            "requests": requests,
            "errors": errors,
            "rps": args.rps,
            "p50Micros": histogram.value_at_quantile(0.50),
            "p90Micros": histogram.value_at_quantile(0.90),
            "p99Micros": histogram.value_at_quantile(0.99),
            "p999Micros": histogram.value_at_quantile(0.999),
            "maxMicros": histogram.max(),
            "elapsedSeconds": elapsed,
        })
    );
    Ok(())
}

//! `cargo xtask bench proxy`: two weft-dp hops against two nginx hops and a direct connection,
//! in one run on this machine, written to docs/benchmarks.md. Not part of `cargo xtask test`.
//!
//! Each configuration runs in several interleaved rounds (wall-clock figures swing between
//! runs on a shared machine; medians are reported), with an open-loop client (`weft-demo
//! bench`) at fixed rates. CPU time per request comes from `/proc`; instructions per request
//! per hop from `valgrind --tool=callgrind`, a figure that repeats from run to run.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use weft_e2e::process::{cpu_seconds, rss_kib};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::prerequisites::{apt_install, which};
use crate::{root, run_command};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    what: Bench,
    /// Interleaved rounds of every configuration.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds measured per configuration and rate.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Skip the instruction counts (valgrind is slow).
    #[arg(long)]
    no_callgrind: bool,
    /// Fleet sizes for `scale`, comma-separated.
    #[arg(long, default_value = "1000,5000,10000")]
    proxies: String,
    /// Simulated zones for `scale`'s federation scenario (0 skips it).
    #[arg(long, default_value_t = 50)]
    zones: usize,
    /// Simulated proxies for `soak`.
    #[arg(long, default_value_t = 2_000)]
    soak_proxies: usize,
    /// How long `soak` runs, in minutes.
    #[arg(long, default_value_t = 30)]
    minutes: u64,
    /// Proxies leaving (and as many joining) each minute of `soak`, in percent.
    #[arg(long, default_value_t = 1.0)]
    churn_percent: f64,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Bench {
    /// Proxy latency, CPU, instructions and memory (DESIGN goals for the data path).
    Proxy,
    /// A zone with 1,000 to 10,000 simulated proxies (ACK times, memory, CPU, bytes), then
    /// global with 50 simulated zones.
    Scale,
    /// 2,000 simulated proxies for 30 minutes with 1 % churn a minute: memory stays flat.
    Soak,
}

const RATES: [f64; 2] = [1000.0, 5000.0];
const RESPONSE_BYTES: usize = 1024;

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A started process, stopped (SIGTERM, then SIGKILL) when dropped.
struct Running {
    name: String,
    child: Child,
}

impl Running {
    fn start(name: &str, command: &mut Command, log: &Path) -> anyhow::Result<Running> {
        let log = std::fs::File::create(log)?;
        let child = command
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Running {
            name: name.to_string(),
            child,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks the process to stop and waits for it (valgrind writes its counts then).
    fn stop(mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut asked = Instant::now() - Duration::from_secs(10);
        while Instant::now() < deadline {
            // Asked again now and then: a signal can arrive while the program is not listening.
            if asked.elapsed() >= Duration::from_secs(5) {
                let _ = Command::new("kill")
                    .args(["-TERM", &self.child.id().to_string()])
                    .status();
                asked = Instant::now();
            }
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("{} did not stop", self.name)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until `port` answers HTTP `GET /` with 200.
fn wait_ready(port: u16, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if http_get(port).is_some_and(|status| status == 200) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{what} on port {port} did not answer")
}

fn http_get(port: u16) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of a process, in seconds.
struct Paths {
    work: PathBuf,
    weft_dp: PathBuf,
    demo: PathBuf,
    nginx: PathBuf,
}

fn nginx_conf(paths: &Paths, name: &str, body: &str) -> anyhow::Result<PathBuf> {
    let dir = paths.work.join(name);
    std::fs::create_dir_all(&dir)?;
    let conf = format!(
        "worker_processes 1;\nuser root;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  keepalive_requests 1000000;\n  keepalive_timeout 300s;\n\
         client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir};\n\
         uwsgi_temp_path {dir}; scgi_temp_path {dir};\n{body}\n}}\n",
        dir = dir.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf)?;
    Ok(path)
}

fn nginx(paths: &Paths, conf: &Path, extra: &str) -> Command {
    let mut command = Command::new(&paths.nginx);
    command
        .arg("-c")
        .arg(conf)
        .arg("-g")
        .arg(format!("daemon off;{extra}"));
    command
}

/// nginx as one proxy hop to `upstream`.
fn nginx_hop(port: u16, upstream: u16) -> String {
    format!(
        "  upstream next {{ server 127.0.0.1:{upstream}; keepalive 64; }}\n\
         server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://next;\n\
         proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}"
    )
}

fn endpoint(service: &str, port: u16) -> Value {
    json!({"address": "127.0.0.1", "port": port, "tags": {"service": service, "version": "v1"}, "dataplane": format!("{service}-{port}")})
}

/// The config of the first weft hop: an outbound to `service`, whose endpoint is `upstream`,
/// plus `extra` outbound services (for the memory figure).
fn outbound_config(port: u16, upstream: u16, extra: usize) -> anyhow::Result<Value> {
    let mut outbound = vec![
        json!({"port": port, "service": "app", "rules": [{"match": {}, "backends": [{"service": "app", "weight": 1}], "origin": "default"}]}),
    ];
    let mut endpoints = serde_json::Map::new();
    endpoints.insert("app".into(), json!([endpoint("app", upstream)]));
    for n in 0..extra {
        let service = format!("service-{n}");
        outbound.push(json!({"port": free_port()?, "service": service, "rules": [{"match": {}, "backends": [{"service": service, "weight": 1}], "origin": "default"}]}));
        endpoints.insert(
            service.clone(),
            json!([
                endpoint(&service, 41000 + n as u16),
                endpoint(&service, 42000 + n as u16)
            ]),
        );
    }
    Ok(
        json!({"mesh": "bench", "dataplane": "client-1", "service": "client", "inbound": [], "outbound": outbound, "endpoints": endpoints}),
    )
}

/// The config of the second weft hop: an inbound in front of the application on `app`.
fn inbound_config(port: u16, app: u16) -> Value {
    json!({"mesh": "bench", "dataplane": "app-1", "service": "app", "inbound": [{"port": port, "serviceAddress": "127.0.0.1", "servicePort": app, "tags": {"service": "app", "version": "v1"}}], "outbound": [], "endpoints": {}})
}

/// `config` in a strict mTLS mesh.
fn with_mtls(mut config: Value) -> Value {
    config["mtls"] = json!("strict");
    config
}

fn weft_dp_mtls(
    paths: &Paths,
    name: &str,
    config: &Value,
    service: &str,
) -> anyhow::Result<Command> {
    let mut command = weft_dp(paths, name, &with_mtls(config.clone()))?;
    command
        .arg("--certificates-dir")
        .arg(paths.work.join("certificates").join(service));
    Ok(command)
}

fn weft_dp(paths: &Paths, name: &str, config: &Value) -> anyhow::Result<Command> {
    let file = paths.work.join(format!("{name}.json"));
    std::fs::write(&file, config.to_string())?;
    let mut command = Command::new(&paths.weft_dp);
    command
        .arg("--config-file")
        .arg(&file)
        .arg("--admin-address")
        .arg(format!("127.0.0.1:{}", free_port()?))
        .env("RUST_LOG", "warn");
    Ok(command)
}

/// One client run: the JSON `weft-demo bench` prints.
fn measure(paths: &Paths, port: u16, rps: f64, seconds: f64) -> anyhow::Result<Value> {
    let output = Command::new(&paths.demo)
        .args(["bench", "--target", &format!("http://127.0.0.1:{port}/")])
        .args(["--rps", &rps.to_string(), "--seconds", &seconds.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run weft-demo bench")?;
    if !output.status.success() {
        bail!("weft-demo bench failed");
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

#[derive(Default, Clone)]
struct Samples {
    p50: Vec<f64>,
    p99: Vec<f64>,
    cpu_per_request_hop: Vec<f64>,
    errors: u64,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Bench::Soak = args.what {
        return crate::soak::run(args.soak_proxies, args.minutes, args.churn_percent);
    }
    if let Bench::Scale = args.what {
        return crate::scale::run(&args.proxies, args.zones);
    }
    if args.rounds == 0 || args.seconds <= 0.0 {
        bail!("--rounds and --seconds must be above 0");
    }
    let mut missing = Vec::new();
    if which("nginx").is_none() && !Path::new("/usr/sbin/nginx").exists() {
        missing.push("nginx");
    }
    if !args.no_callgrind && which("valgrind").is_none() {
        missing.push("valgrind");
    }
    if !missing.is_empty() {
        apt_install(&missing)?;
    }
    let started = Instant::now();
    run_command(crate::cargo().args(["build", "--release", "-p", "weft-dp", "-p", "weft-demo"]))?;
    let target = root().join("target/release");
    let work = root().join("target/bench");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let paths = Paths {
        work: work.clone(),
        weft_dp: target.join("weft-dp"),
        demo: target.join("weft-demo"),
        nginx: which("nginx").unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx")),
    };
    let docroot = work.join("www");
    std::fs::create_dir_all(&docroot)?;
    std::fs::write(docroot.join("index.html"), "x".repeat(RESPONSE_BYTES))?;

    // The application: nginx serving 1 KB.
    let app_port = free_port()?;
    let app_conf = nginx_conf(
        &paths,
        "app",
        &format!(
            "  server {{ listen 127.0.0.1:{app_port}; root {}; location / {{ index index.html; }} }}",
            docroot.display()
        ),
    )?;
    let _app = Running::start(
        "app",
        &mut nginx(&paths, &app_conf, ""),
        &work.join("app.log"),
    )?;
    wait_ready(app_port, "the application")?;

    // Two nginx hops.
    let (nginx_a, nginx_b) = (free_port()?, free_port()?);
    let conf_b = nginx_conf(&paths, "nginx-b", &nginx_hop(nginx_b, app_port))?;
    let conf_a = nginx_conf(&paths, "nginx-a", &nginx_hop(nginx_a, nginx_b))?;
    let hop_b = Running::start(
        "nginx-b",
        &mut nginx(&paths, &conf_b, ""),
        &work.join("nginx-b.log"),
    )?;
    let hop_a = Running::start(
        "nginx-a",
        &mut nginx(&paths, &conf_a, ""),
        &work.join("nginx-a.log"),
    )?;
    wait_ready(nginx_a, "two nginx hops")?;
    // nginx's worker does the work; its master only watches.
    let nginx_workers = [worker_of(hop_a.pid())?, worker_of(hop_b.pid())?];

    // Two weft-dp hops (the first routes, the second fronts the application).
    let (weft_a, weft_b) = (free_port()?, free_port()?);
    let dp_b = Running::start(
        "weft-dp b",
        &mut weft_dp(&paths, "weft-b", &inbound_config(weft_b, app_port))?,
        &work.join("weft-b.log"),
    )?;
    let dp_a = Running::start(
        "weft-dp a",
        &mut weft_dp(&paths, "weft-a", &outbound_config(weft_a, weft_b, 0)?)?,
        &work.join("weft-a.log"),
    )?;
    wait_ready(weft_a, "two weft-dp hops")?;
    let weft_pids = [dp_a.pid(), dp_b.pid()];

    // The same two hops in a strict mTLS mesh (TLS 1.3 between them).
    weft_e2e::certificates::write_dirs(&work.join("certificates"), "bench", &["client", "app"])?;
    let (mtls_a, mtls_b) = (free_port()?, free_port()?);
    let tls_b = Running::start(
        "weft-dp b (mTLS)",
        &mut weft_dp_mtls(
            &paths,
            "weft-tls-b",
            &inbound_config(mtls_b, app_port),
            "app",
        )?,
        &work.join("weft-tls-b.log"),
    )?;
    let tls_a = Running::start(
        "weft-dp a (mTLS)",
        &mut weft_dp_mtls(
            &paths,
            "weft-tls-a",
            &outbound_config(mtls_a, mtls_b, 0)?,
            "client",
        )?,
        &work.join("weft-tls-a.log"),
    )?;
    wait_ready(mtls_a, "two weft-dp hops with mTLS")?;
    let tls_pids = [tls_a.pid(), tls_b.pid()];

    let configurations: [(&str, u16, Vec<u32>); 4] = [
        ("direct", app_port, vec![]),
        (
            "nginx, two hops (plaintext, keep-alive upstreams)",
            nginx_a,
            nginx_workers.to_vec(),
        ),
        ("weft-dp, two hops (plaintext)", weft_a, weft_pids.to_vec()),
        (
            "weft-dp, two hops (mTLS, TLS 1.3)",
            mtls_a,
            tls_pids.to_vec(),
        ),
    ];
    let mut samples = vec![vec![Samples::default(); RATES.len()]; configurations.len()];
    for round in 1..=args.rounds {
        for (rate_index, rate) in RATES.iter().enumerate() {
            for (index, (name, port, pids)) in configurations.iter().enumerate() {
                eprintln!(
                    "xtask: bench round {round}/{}: {name} at {rate} rps",
                    args.rounds
                );
                let before: f64 = pids
                    .iter()
                    .map(|pid| cpu_seconds(*pid).unwrap_or(0.0))
                    .sum();
                let result = measure(&paths, *port, *rate, args.seconds)?;
                let after: f64 = pids
                    .iter()
                    .map(|pid| cpu_seconds(*pid).unwrap_or(0.0))
                    .sum();
                let requests = result["requests"].as_f64().unwrap_or(1.0).max(1.0);
                let sample = &mut samples[index][rate_index];
                sample
                    .p50
                    .push(result["p50Micros"].as_f64().unwrap_or(f64::NAN));
                sample
                    .p99
                    .push(result["p99Micros"].as_f64().unwrap_or(f64::NAN));
                sample.errors += result["errors"].as_u64().unwrap_or(0);
                if !pids.is_empty() {
                    // A warm-up second is sent but not counted; it is small next to the run.
                    let warm = requests + rate;
                    sample
                        .cpu_per_request_hop
                        .push((after - before) / warm / pids.len() as f64 * 1e6);
                }
            }
        }
    }

    // Memory: one proxy with 100 services configured, after traffic.
    let many_port = free_port()?;
    let many = Running::start(
        "weft-dp 100 services",
        &mut weft_dp(
            &paths,
            "weft-100",
            &outbound_config(many_port, app_port, 100)?,
        )?,
        &work.join("weft-100.log"),
    )?;
    wait_ready(many_port, "weft-dp with 100 services")?;
    measure(&paths, many_port, 500.0, 2.0)?;
    let rss_100 = rss_kib(many.pid())?;
    let rss_one = rss_kib(dp_a.pid())?;
    let nginx_rss = rss_kib(nginx_workers[0])? + rss_kib(hop_a.pid())?;
    many.stop()?;
    drop((dp_a, dp_b, tls_a, tls_b, hop_a, hop_b));

    let instructions = if args.no_callgrind {
        None
    } else {
        Some(callgrind(&paths, app_port)?)
    };

    let report = report(
        &args,
        &configurations,
        &samples,
        rss_one,
        rss_100,
        nginx_rss,
        instructions,
        started.elapsed(),
    );
    let path = root().join("docs/benchmarks.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, splice(&existing, &report))?;
    eprintln!(
        "xtask: wrote {} in {:.0?}",
        path.display(),
        started.elapsed()
    );
    Ok(())
}

const START: &str = "<!-- cargo xtask bench proxy: start -->";
const END: &str = "<!-- cargo xtask bench proxy: end -->";

/// Replaces the generated part of docs/benchmarks.md, keeping what is written around it.
fn splice(existing: &str, report: &str) -> String {
    let generated = format!("{START}\n{report}{END}\n");
    match (existing.find(START), existing.find(END)) {
        (Some(start), Some(end)) if start < end => {
            format!(
                "{}{generated}{}",
                &existing[..start],
                &existing[end + END.len()..].trim_start_matches('\n')
            )
        }
        _ => format!("# Benchmarks\n\n{generated}"),
    }
}

/// nginx's worker process (the child of its master).
fn worker_of(master: u32) -> anyhow::Result<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let children = std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
            .unwrap_or_default();
        if let Some(pid) = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
        {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nginx {master} has no worker")
}

/// Instructions per request of one hop of each proxy, from two runs with different request
/// counts (the difference cancels start-up and shutdown).
fn callgrind(paths: &Paths, app_port: u16) -> anyhow::Result<(f64, f64)> {
    let counts = [(100.0, 2.0), (100.0, 6.0)];
    let mut weft = Vec::new();
    let mut nginx_counts = Vec::new();
    for (rps, seconds) in counts {
        // weft-dp: one outbound hop straight to the application.
        let port = free_port()?;
        let out = paths.work.join(format!("callgrind-weft-{seconds}.out"));
        let file = paths.work.join("callgrind-weft.json");
        std::fs::write(&file, outbound_config(port, app_port, 0)?.to_string())?;
        let mut command = Command::new("valgrind");
        command
            .args(["--tool=callgrind", "--trace-children=no"])
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&paths.weft_dp)
            .arg("--config-file")
            .arg(&file)
            .arg("--admin-address")
            .arg(format!("127.0.0.1:{}", free_port()?))
            .env("RUST_LOG", "warn");
        let running = Running::start(
            "weft-dp under callgrind",
            &mut command,
            &paths.work.join("callgrind-weft.log"),
        )?;
        wait_ready(port, "weft-dp under callgrind")?;
        let result = measure(paths, port, rps, seconds)?;
        running.stop()?;
        weft.push((
            result["requests"].as_f64().unwrap_or(0.0) + rps,
            total_instructions(&out)?,
        ));

        // nginx: one hop, single process so callgrind sees the work.
        let port = free_port()?;
        let out = paths.work.join(format!("callgrind-nginx-{seconds}.out"));
        let conf = nginx_conf(paths, "nginx-callgrind", &nginx_hop(port, app_port))?;
        let mut command = Command::new("valgrind");
        command
            .args(["--tool=callgrind", "--trace-children=no"])
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&paths.nginx)
            .arg("-c")
            .arg(&conf)
            .arg("-g")
            .arg("daemon off; master_process off;");
        let running = Running::start(
            "nginx under callgrind",
            &mut command,
            &paths.work.join("callgrind-nginx.log"),
        )?;
        wait_ready(port, "nginx under callgrind")?;
        let result = measure(paths, port, rps, seconds)?;
        running.stop()?;
        nginx_counts.push((
            result["requests"].as_f64().unwrap_or(0.0) + rps,
            total_instructions(&out)?,
        ));
    }
    let per_request = |runs: &[(f64, f64)]| (runs[1].1 - runs[0].1) / (runs[1].0 - runs[0].0);
    Ok((per_request(&weft), per_request(&nginx_counts)))
}

fn total_instructions(out: &Path) -> anyhow::Result<f64> {
    let text = std::fs::read_to_string(out)
        .with_context(|| format!("no callgrind output {}", out.display()))?;
    text.lines()
        .find_map(|line| {
            line.strip_prefix("summary:")
                .or_else(|| line.strip_prefix("totals:"))
        })
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .context("callgrind output without totals")
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &BenchArgs,
    configurations: &[(&str, u16, Vec<u32>)],
    samples: &[Vec<Samples>],
    rss_one: u64,
    rss_100: u64,
    nginx_rss: u64,
    instructions: Option<(f64, f64)>,
    took: Duration,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Produced by `cargo xtask bench proxy --rounds {} --seconds {}` on {} ({} cores), {}; it took {:.0?}. \
         Not part of CI.\n",
        args.rounds,
        args.seconds,
        machine(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        today(),
        took
    );
    let _ = writeln!(
        out,
        "### Two proxy hops, 1 KB responses, HTTP/1.1 keep-alive\n\n\
         Client: `weft-demo bench`, open loop at a fixed rate, latency from each request's intended \
         start (HDR histogram). Every configuration ran {} times, interleaved; medians of the runs. \
         CPU is user + system time of the proxy processes from `/proc` per request and hop \
         (nginx: its worker processes, one each; weft-dp: its default single thread). Everything shares the machine's cores with the client \
         and the application (nginx serving a static file), so compare the rows of one table, \
         not absolute figures across machines.\n",
        args.rounds
    );
    let _ = writeln!(
        out,
        "| configuration | rate (rps) | p50 (µs) | p99 (µs) | added p50 (µs) | added p99 (µs) | CPU per request per hop (µs) | errors |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for (rate_index, rate) in RATES.iter().enumerate() {
        let mut direct = samples[0][rate_index].clone();
        let (direct_p50, direct_p99) = (median(&mut direct.p50), median(&mut direct.p99));
        for (index, (name, _, _)) in configurations.iter().enumerate() {
            let mut sample = samples[index][rate_index].clone();
            let (p50, p99) = (median(&mut sample.p50), median(&mut sample.p99));
            let cpu = if sample.cpu_per_request_hop.is_empty() {
                "—".to_string()
            } else {
                format!("{:.1}", median(&mut sample.cpu_per_request_hop))
            };
            let added = |value: f64, base: f64| {
                if index == 0 {
                    "—".to_string()
                } else {
                    format!("{:.0}", value - base)
                }
            };
            let _ = writeln!(
                out,
                "| {name} | {rate:.0} | {p50:.0} | {p99:.0} | {} | {} | {cpu} | {} |",
                added(p50, direct_p50),
                added(p99, direct_p99),
                sample.errors
            );
        }
    }
    let _ = writeln!(out, "\n### Instructions per request per hop\n");
    match instructions {
        Some((weft, nginx)) => {
            let _ = writeln!(
                out,
                "`valgrind --tool=callgrind`, one proxy hop in front of the application, two runs \
                 (300 and 700 requests at 100 rps); the difference divided by the extra requests, \
                 so start-up is not counted. These counts repeat from run to run.\n\n\
                 | proxy | instructions per request |\n|---|---|\n\
                 | weft-dp | {weft:.0} |\n| nginx (one process, `master_process off`) | {nginx:.0} |\n"
            );
        }
        None => {
            let _ = writeln!(out, "Not measured in this run (`--no-callgrind`).\n");
        }
    }
    let _ = writeln!(
        out,
        "### Memory\n\n| what | RSS |\n|---|---|\n\
         | weft-dp, one outbound service | {:.1} MB |\n\
         | weft-dp, 100 outbound services (200 endpoints) | {:.1} MB |\n\
         | nginx hop (master + worker) | {:.1} MB |\n",
        rss_one as f64 / 1024.0,
        rss_100 as f64 / 1024.0,
        nginx_rss as f64 / 1024.0
    );
    out
}

fn machine() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|name| name.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "an unknown CPU".into())
}

pub fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_report_replaces_only_the_generated_part() {
        let existing = format!("# Benchmarks\n\nintro\n\n{START}\nold\n{END}\n\nnotes\n");
        let spliced = splice(&existing, "new\n");
        assert_eq!(
            spliced,
            format!("# Benchmarks\n\nintro\n\n{START}\nnew\n{END}\nnotes\n")
        );
        assert!(splice("", "new\n").contains("new"));
    }
}

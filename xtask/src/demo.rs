//! `cargo xtask demo`: the whole product on this machine (DESIGN.md §9), SQLite-backed.

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::bail;
use rand::Rng;
use rand::distributions::Alphanumeric;
use weft_e2e::shop::{Ports, Shop, ShopOptions};

use crate::{console, prerequisites, root, run_command};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Build optimised binaries (slower to build, faster to run).
    #[arg(long)]
    release: bool,
    /// Requests per second the load generator sends to web.
    #[arg(long, default_value_t = 20.0)]
    rps: f64,
}

const FIXED_PORTS: [u16; 7] = [5681, 5685, 5682, 5678, 5692, 5688, 8080];

fn check_ports() -> anyhow::Result<()> {
    for port in FIXED_PORTS.into_iter().chain(20000..20040) {
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            bail!(
                "port {port} is already in use (is another demo running?); the demo needs 5678-5692, 8080 and 20000-20039 on 127.0.0.1"
            );
        }
    }
    Ok(())
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    if !(args.rps > 0.0 && args.rps <= 10_000.0) {
        bail!("--rps must be above 0 and at most 10000");
    }
    let tools = prerequisites::ensure_console()?;
    let console_dir = console::build(&tools)?;
    let mut build = crate::cargo();
    build.args(["build", "--workspace", "--bins"]);
    if args.release {
        build.arg("--release");
    }
    run_command(&mut build)?;
    weft_e2e::process::set_binaries_dir(root().join("target").join(if args.release {
        "release"
    } else {
        "debug"
    }));
    check_ports()?;

    let password = std::env::var("WEFT_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| {
            rand::thread_rng()
                .sample_iter(&Alphanumeric)
                .take(16)
                .map(char::from)
                .collect()
        });
    if password.len() < 8 {
        bail!("WEFT_ADMIN_PASSWORD must be at least 8 characters");
    }
    let work_dir = root().join(".weft/demo");
    let _ = std::fs::remove_dir_all(&work_dir);

    let (stop_sender, stop) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_sender.send(());
    })?;

    eprintln!("xtask: starting weft-global, zones east and west, and the shop…");
    let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Shop::start(ShopOptions {
            work_dir: work_dir.clone(),
            ports: Ports::Demo,
            admin_password: password.clone(),
            console_dir: Some(console_dir.clone()),
            load_rps: args.rps,
            canary_route: true,
            ..ShopOptions::default()
        })
    }));
    let Ok(mut shop) = started else {
        bail!(
            "the demo did not start; the logs are in {}",
            work_dir.display()
        );
    };
    shop.add_demo_tenants(&password);

    println!();
    println!("  Weft demo is running.");
    println!();
    println!("  console      {}/", shop.global.url());
    println!("  users        admin (platform admin)");
    for (user, tenant, role) in weft_e2e::shop::DEMO_USERS {
        println!("               {user} ({role} of {tenant})");
    }
    println!("  password     {password} (every user)");
    println!("  shop (web)   {}", shop.web().url());
    println!("  logs         {}", work_dir.display());
    println!();
    println!(
        "  Open the console, pick mesh \"shop\" and watch the live graph. Ctrl-C stops everything."
    );
    println!();

    loop {
        match stop.recv_timeout(Duration::from_secs(1)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(name) = shop.exited() {
                    eprintln!(
                        "xtask: {name} exited unexpectedly; stopping the demo (logs in {})",
                        work_dir.display()
                    );
                    break;
                }
            }
        }
    }
    eprintln!("xtask: stopping…");
    shop.stop();
    eprintln!("xtask: demo stopped");
    Ok(())
}

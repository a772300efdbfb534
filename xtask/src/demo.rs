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
    /// Make catalog v2 fail 30 % of its requests from the start, to watch the rollout roll
    /// back by itself.
    #[arg(long)]
    failing_canary: bool,
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
    let api = shop.global.api();
    let fault_file = work_dir.join("catalog-v2-fails.yaml");
    std::fs::write(&fault_file, weft_e2e::shop::CANARY_FAULT)?;
    if args.failing_canary {
        api.apply(
            "/api/v1/meshes/shop/faultinjections/catalog-v2-fails",
            weft_e2e::shop::CANARY_FAULT,
        );
    }
    api.apply(
        "/api/v1/meshes/shop/rollouts/catalog",
        weft_e2e::shop::DEMO_ROLLOUT,
    );

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
        "  rollout      {}/meshes/shop/rollouts/catalog (catalog v1 → v2, a step every 20 s)",
        shop.global.url()
    );
    println!();
    println!("  Open the console, pick mesh \"shop\" and watch the live graph and the rollout.");
    if args.failing_canary {
        println!("  catalog v2 fails 30 % of its requests: the rollout will roll back by itself.");
    } else {
        println!("  To watch an automatic rollback, make catalog v2 fail 30 % of its requests:");
        println!(
            "    cargo run -q -p weftctl -- login --server {} --user admin",
            shop.global.url()
        );
        println!(
            "    cargo run -q -p weftctl -- apply -f {}",
            fault_file.display()
        );
        println!("  (or start the demo with --failing-canary).");
    }
    println!("  Ctrl-C stops everything.");
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

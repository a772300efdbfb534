//! The demo shop: `weft-demo app` runs one service instance that answers with its service,
//! version and zone and calls its downstream services; `weft-demo load` sends a steady rate of
//! requests (open loop: the rate does not slow down when responses do); `weft-demo bench`
//! measures latency at a fixed rate for `cargo xtask bench`.

mod app;
mod bench;
mod load;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "weft-demo",
    about = "Weft demo shop application and load generator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one service instance.
    App(app::AppArgs),
    /// Send requests at a fixed rate.
    Load(load::LoadArgs),
    /// Measure latency at a fixed rate (open loop, HDR histogram), printed as JSON.
    Bench(bench::BenchArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::App(args) => app::run(args).await,
        Command::Load(args) => load::run(args).await,
        Command::Bench(args) => bench::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("weft-demo: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

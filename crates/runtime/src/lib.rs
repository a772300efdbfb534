//! Process plumbing shared by weft-global, weft-zone and weft-dp: logging in text or JSON,
//! the shutdown signal (SIGINT or SIGTERM), HTTP serving with limits ([`http_server`]), and
//! the control-plane gRPC connections ([`grpc`]).

pub mod grpc;
pub mod grpc_server;
pub mod http_server;
pub mod metrics;

use tokio::sync::watch;

/// A duration flag such as `30s` or `500ms`.
#[derive(Clone, Copy, Debug)]
pub struct Seconds(pub std::time::Duration);

impl From<Seconds> for std::time::Duration {
    fn from(value: Seconds) -> Self {
        value.0
    }
}

impl std::str::FromStr for Seconds {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        weft_model::duration::Duration::parse(text).map(|duration| Seconds(duration.as_std()))
    }
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the tracing subscriber: human-readable text (coloured on a terminal) or JSON
/// lines, on stderr, filtered by RUST_LOG (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let mut terminate = match tokio::signal::unix::signal(
        tokio::signal::unix::SignalKind::terminate(),
    ) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM; only Ctrl-C stops this process");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone). Holding no borrow of the
/// channel, it can sit in a `select!` whose branches await.
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

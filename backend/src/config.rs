//! Command-line flags, each with an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::auth::Secret;

pub use weft_runtime::LogFormat;

/// Weft global control plane.
#[derive(Clone, Debug, Parser)]
#[command(name = "weft-global", version, about)]
pub struct Config {
    /// Address of the REST API and the console.
    #[arg(long, env = "WEFT_HTTP_ADDRESS", default_value = "0.0.0.0:5681")]
    pub http_address: SocketAddr,

    /// Address of the zone sync gRPC server.
    #[arg(long, env = "WEFT_GRPC_ADDRESS", default_value = "0.0.0.0:5685")]
    pub grpc_address: SocketAddr,

    /// Postgres URL (postgres://user:password@host/db). Without it, an embedded SQLite file in --data-dir is used.
    #[arg(long, env = "WEFT_DATABASE_URL")]
    pub database_url: Option<Secret>,

    /// Directory for the embedded SQLite store.
    #[arg(long, env = "WEFT_DATA_DIR", default_value = ".weft/global")]
    pub data_dir: PathBuf,

    /// Password of the `admin` user; set on every start. When absent and no admin exists yet,
    /// one is generated and printed once.
    #[arg(long, env = "WEFT_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret>,

    /// Directory holding the built console (index.html and pkg/); `cargo xtask console` builds it into target/console.
    #[arg(long, env = "WEFT_CONSOLE_DIR", default_value = "target/console")]
    pub console_dir: PathBuf,

    /// Lifetime of login tokens, e.g. 12h.
    #[arg(long, env = "WEFT_TOKEN_TTL", default_value = "12h", value_parser = parse_duration)]
    pub token_ttl: std::time::Duration,

    /// Share of 5xx responses (percent) at which a graph edge counts as failing.
    #[arg(long, env = "WEFT_EDGE_FAILURE_PERCENT", default_value_t = 10.0, value_parser = parse_percent)]
    pub edge_failure_percent: f64,

    /// How long deletions stay in the change feed; a zone away for longer gets a full
    /// snapshot when it comes back, e.g. 24h.
    #[arg(long, env = "WEFT_TOMBSTONE_RETENTION", default_value = "24h", value_parser = parse_duration)]
    pub tombstone_retention: std::time::Duration,

    #[arg(long, env = "WEFT_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// File holding the key that encrypts the mesh CAs' private keys at rest (created, with
    /// 0600 permissions, when missing); `<data-dir>/secrets.key` by default. Replicas sharing a
    /// database need the same file.
    #[arg(long, env = "WEFT_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,

    #[command(flatten)]
    pub tls: weft_runtime::grpc::ServingTlsArgs,

    #[command(flatten)]
    pub servers: weft_runtime::http_server::ServerArgs,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let duration = weft_model::duration::Duration::parse(text)?.as_std();
    if duration.is_zero() {
        return Err("must be longer than 0s".into());
    }
    Ok(duration)
}

fn parse_percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if value > 0.0 && value <= 100.0 {
        Ok(value)
    } else {
        Err("must be above 0 and at most 100".into())
    }
}

impl Config {
    pub fn secrets_key_file(&self) -> PathBuf {
        self.secrets_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secrets.key"))
    }

    /// The database URL to connect to: the given one, or the embedded SQLite file.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.0.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("weft.db").display()
            ),
        }
    }
}

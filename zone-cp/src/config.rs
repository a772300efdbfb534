//! Command-line flags, each with an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

pub use weft_runtime::LogFormat;

/// Weft zone control plane.
#[derive(Clone, Debug, Parser)]
#[command(name = "weft-zone", version, about)]
pub struct Config {
    /// Name of this zone (a DNS label, e.g. east).
    #[arg(long, env = "WEFT_ZONE_NAME", value_parser = parse_name)]
    pub zone_name: String,

    /// Address of the global control plane's zone sync port (always TLS). With several
    /// replicas, list each one separated by commas: the zone dials the next when one fails.
    #[arg(
        long,
        env = "WEFT_GLOBAL_ADDRESS",
        default_value = "https://127.0.0.1:5685",
        value_delimiter = ','
    )]
    pub global_address: Vec<String>,

    /// PEM CA certificate global's gRPC certificate must chain to (global keeps its own in
    /// `<its data-dir>/tls/ca.pem` unless it was given --tls-cert-file).
    #[arg(long, env = "WEFT_GLOBAL_CA_FILE")]
    pub global_ca_file: PathBuf,

    /// Address of health, metrics and the read-only zone API. Loopback by default: the zone
    /// API lists every tenant's proxies, so on any other address it needs --http-token-file.
    #[arg(long, env = "WEFT_HTTP_ADDRESS", default_value = "127.0.0.1:5682")]
    pub http_address: SocketAddr,

    /// File holding a token the read-only zone API (`/api/v1/…`) requires as
    /// `Authorization: Bearer <token>`. Without it, that API answers only on a loopback
    /// address; health, readiness and metrics answer everywhere.
    #[arg(long, env = "WEFT_HTTP_TOKEN_FILE")]
    pub http_token_file: Option<PathBuf>,

    /// Address proxies connect to.
    #[arg(long, env = "WEFT_GRPC_ADDRESS", default_value = "0.0.0.0:5678")]
    pub grpc_address: SocketAddr,

    /// Directory of the zone's local store; defaults to .weft/zone-<name>.
    #[arg(long, env = "WEFT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// How long a proxy that disconnected without saying goodbye stays registered.
    #[arg(long, env = "WEFT_DATAPLANE_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub dataplane_grace: Duration,

    /// How long the zone keeps the tombstones of its departed dataplanes; a global that was
    /// away (or restored from a backup) for longer gets a snapshot of the live ones, e.g. 24h.
    #[arg(long, env = "WEFT_TOMBSTONE_RETENTION", default_value = "24h", value_parser = parse_duration)]
    pub tombstone_retention: Duration,

    #[arg(long, env = "WEFT_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// File holding this zone's token (`POST /api/v1/zones/{zone}/token` on global).
    #[arg(long, env = "WEFT_ZONE_TOKEN_FILE")]
    pub zone_token_file: PathBuf,

    /// Accept dataplanes at loopback addresses (demos and tests on one machine); otherwise
    /// loopback, unspecified, link-local and multicast addresses are refused.
    #[arg(long, env = "WEFT_ALLOW_LOOPBACK_DATAPLANES")]
    pub allow_loopback_dataplanes: bool,

    #[command(flatten)]
    pub tls: weft_runtime::grpc::ServingTlsArgs,

    #[command(flatten)]
    pub servers: weft_runtime::http_server::ServerArgs,
}

fn parse_name(text: &str) -> Result<String, String> {
    weft_model::name::Name::parse(text).map(|name| name.to_string())
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    Ok(weft_model::duration::Duration::parse(text)?.as_std())
}

impl Config {
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!(".weft/zone-{}", self.zone_name)))
    }
}

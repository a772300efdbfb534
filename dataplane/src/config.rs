//! Command-line flags, each with an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
pub use weft_runtime::Seconds;

pub use weft_runtime::LogFormat;

/// Weft dataplane proxy.
#[derive(Clone, Debug, Parser)]
#[command(name = "weft-dp", version, about)]
pub struct Config {
    /// Address of the zone control plane's gRPC port (always TLS).
    #[arg(
        long,
        env = "WEFT_ZONE_ADDRESS",
        default_value = "https://127.0.0.1:5678"
    )]
    pub zone_address: String,

    /// PEM CA certificate the zone's gRPC certificate must chain to (the zone keeps its own in
    /// `<its data-dir>/tls/ca.pem` unless it was given --tls-cert-file); required with a zone.
    #[arg(long, env = "WEFT_ZONE_CA_FILE")]
    pub zone_ca_file: Option<PathBuf>,

    /// File holding this proxy's Dataplane manifest (YAML or JSON).
    #[arg(
        long,
        env = "WEFT_DATAPLANE_FILE",
        required_unless_present = "config_file"
    )]
    pub dataplane_file: Option<PathBuf>,

    /// File holding this proxy's dataplane token (`POST /api/v1/meshes/{mesh}/dataplane-tokens`
    /// on global); required with a zone.
    #[arg(long, env = "WEFT_DATAPLANE_TOKEN_FILE")]
    pub dataplane_token_file: Option<PathBuf>,

    /// Run without a zone: serve this proxy config (JSON, as a zone would send it) and nothing
    /// else. For benchmarks and debugging; inbound listeners bind the Dataplane file's address,
    /// or 127.0.0.1 without one.
    #[arg(long, env = "WEFT_CONFIG_FILE")]
    pub config_file: Option<PathBuf>,

    /// With --config-file: a directory holding this proxy's certificates, for mTLS without a
    /// zone: `bundle.pem` (the trusted roots) and, per service it speaks for, `<service>.pem`
    /// (certificate chain, leaf first) and `<service>.key`.
    #[arg(long, env = "WEFT_CERTIFICATES_DIR", requires = "config_file")]
    pub certificates_dir: Option<PathBuf>,

    /// Address of the admin port (health, readiness, metrics, config).
    #[arg(long, env = "WEFT_ADMIN_ADDRESS", default_value = "127.0.0.1:9901")]
    pub admin_address: SocketAddr,

    #[arg(long, env = "WEFT_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Threads serving traffic: 1 (the default) runs everything on one thread, like a sidecar
    /// should; 0 uses one per core.
    #[arg(long, env = "WEFT_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=256))]
    pub threads: u32,

    /// Open connections per listener; further clients wait in the accept queue.
    #[arg(long, env = "WEFT_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// Time a client has to send a request's headers; also closes idle HTTP/1.1 connections.
    #[arg(long, env = "WEFT_HEADER_READ_TIMEOUT", default_value = "30s")]
    pub header_read_timeout: Seconds,

    /// On shutdown, how long to keep accepting after deregistering (while peers learn that
    /// this proxy is gone), before draining.
    #[arg(long, env = "WEFT_DRAIN_DELAY", default_value = "0s")]
    pub drain_delay: Seconds,
}

//! Command-line flags, each with an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

pub use weft_runtime::LogFormat;

/// Weft dataplane proxy.
#[derive(Clone, Debug, Parser)]
#[command(name = "weft-dp", version, about)]
pub struct Config {
    /// gRPC address of the zone control plane.
    #[arg(
        long,
        env = "WEFT_ZONE_ADDRESS",
        default_value = "http://127.0.0.1:5678"
    )]
    pub zone_address: String,

    /// File holding this proxy's Dataplane manifest (YAML or JSON).
    #[arg(long, env = "WEFT_DATAPLANE_FILE")]
    pub dataplane_file: PathBuf,

    /// Address of the admin port (health, readiness, metrics, config).
    #[arg(long, env = "WEFT_ADMIN_ADDRESS", default_value = "127.0.0.1:9901")]
    pub admin_address: SocketAddr,

    #[arg(long, env = "WEFT_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

//! weft-dp: the sidecar proxy.

pub mod admin;
pub mod body;
pub mod clock;
pub mod config;
pub mod control;
pub mod error;
pub mod identity;
pub mod metrics;
pub mod observe;
pub mod policy;
pub mod proxy;
pub mod routing;
pub mod source;
pub mod stack;
pub mod telemetry;
pub mod tls;
pub mod upstream;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::watch;
use weft_model::resource::{Author, parse_resources};
use weft_model::{Kind, Spec};

use crate::config::Config;
use crate::proxy::Proxy;
use crate::telemetry::Telemetry;

/// A Dataplane manifest, read and validated.
pub struct LoadedDataplane {
    /// The manifest as JSON, as the zone receives it.
    pub manifest_json: String,
    pub mesh: String,
    pub address: IpAddr,
    /// The services of its inbounds.
    pub services: Vec<String>,
}

/// Reads and validates the Dataplane manifest.
pub fn load_dataplane(text: &str) -> anyhow::Result<LoadedDataplane> {
    let mut resources = parse_resources(text, Author::User).map_err(|errors| {
        let lines: Vec<String> = errors
            .0
            .iter()
            .map(|e| format!("  {}: {}", e.field, e.message))
            .collect();
        anyhow::anyhow!("invalid Dataplane manifest:\n{}", lines.join("\n"))
    })?;
    if resources.len() != 1 {
        bail!(
            "the Dataplane file must hold exactly one document, found {}",
            resources.len()
        );
    }
    let resource = resources.remove(0);
    if resource.kind() != Kind::Dataplane {
        bail!(
            "the manifest is a {}, expected a Dataplane",
            resource.kind()
        );
    }
    let Spec::Dataplane(spec) = &resource.spec else {
        bail!("the manifest is not a Dataplane")
    };
    let address: IpAddr = spec
        .networking
        .address
        .parse()
        .context("networking.address")?;
    let mesh = resource.mesh().unwrap_or_default().to_string();
    let mut services: Vec<String> = spec.services().map(str::to_string).collect();
    services.sort();
    services.dedup();
    let manifest_json = serde_json::to_string(&resource.to_manifest())?;
    Ok(LoadedDataplane {
        manifest_json,
        mesh,
        address,
        services,
    })
}

pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let dataplane = match &config.dataplane_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --dataplane-file {}", path.display()))?;
            Some(load_dataplane(&text)?)
        }
        None => None,
    };
    let address = dataplane
        .as_ref()
        .map_or(IpAddr::from([127, 0, 0, 1]), |loaded| loaded.address);
    let telemetry = Arc::new(Telemetry::default());
    let limits = proxy::ServerLimits {
        max_connections: config.max_connections as usize,
        header_read_timeout: config.header_read_timeout.into(),
        ..proxy::ServerLimits::default()
    };
    let proxy = Proxy::with_limits(address, telemetry, limits);
    let connected = Arc::new(AtomicBool::new(false));
    let draining = Arc::new(AtomicBool::new(false));
    let admin_listener = tokio::net::TcpListener::bind(config.admin_address)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (--admin-address)",
                config.admin_address
            )
        })?;
    let (shutdown_sender, shutdown_receiver) = watch::channel(false);
    let admin_state = admin::AdminState {
        proxy: proxy.clone(),
        connected: connected.clone(),
        draining: draining.clone(),
    };
    let (admin_stop, mut admin_shutdown) = watch::channel(false);
    let admin_task = tokio::spawn(async move {
        axum::serve(admin_listener, admin::app(admin_state))
            .with_graceful_shutdown(async move {
                let _ = admin_shutdown.wait_for(|stop| *stop).await;
            })
            .await
    });
    let control_task = match (&config.config_file, dataplane) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --config-file {}", path.display()))?;
            let static_config: weft_model::proxy::ProxyConfig = serde_json::from_str(&text)
                .with_context(|| {
                    format!("--config-file {} is not a proxy config", path.display())
                })?;
            if let Some(dir) = &config.certificates_dir {
                install_certificates(&proxy, dir, &static_config)?;
            }
            proxy
                .apply(1, static_config)
                .await
                .with_context(|| format!("cannot apply --config-file {}", path.display()))?;
            tracing::info!(config = %path.display(), admin = %config.admin_address, "weft-dp serving a static config, without a zone");
            tokio::spawn(async {})
        }
        (None, Some(loaded)) => {
            let LoadedDataplane {
                manifest_json,
                mesh,
                services,
                ..
            } = loaded;
            let Some(path) = &config.dataplane_token_file else {
                bail!(
                    "--dataplane-token-file is required with a zone; create a token with POST /api/v1/meshes/{mesh}/dataplane-tokens"
                );
            };
            let token = weft_identity::tokens::read_token_file(path).with_context(|| {
                format!("cannot read --dataplane-token-file {}", path.display())
            })?;
            if token.is_empty() {
                bail!("--dataplane-token-file {} is empty", path.display());
            }
            let Some(ca_file) = &config.zone_ca_file else {
                bail!(
                    "--zone-ca-file is required with a zone: the CA the zone's certificate chains to (the zone's <data-dir>/tls/ca.pem)"
                );
            };
            let ca_pem = std::fs::read_to_string(ca_file)
                .with_context(|| format!("cannot read --zone-ca-file {}", ca_file.display()))?;
            let zone = weft_runtime::grpc::ControlClient::new(
                &config.zone_address,
                "--zone-address",
                &ca_pem,
                &token,
            )
            .map_err(|error| anyhow::anyhow!("{error} (--zone-ca-file {})", ca_file.display()))?;
            tracing::info!(zone = %config.zone_address, admin = %config.admin_address, mesh = %mesh, "weft-dp starting");
            let control = control::Control {
                zone,
                mesh,
                manifest_json,
                services,
                proxy: proxy.clone(),
                connected,
            };
            tokio::spawn(control.run(shutdown_receiver.clone()))
        }
        (None, None) => bail!("give --dataplane-file (with a zone) or --config-file (without)"),
    };

    shutdown.await;
    tracing::info!("shutting down");
    // Not ready any more, then deregister so peers stop sending here, then let requests in
    // flight finish while new connections are refused.
    draining.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = shutdown_sender.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(3), control_task).await;
    tokio::time::sleep(config.drain_delay.into()).await;
    proxy.stop().await;
    let _ = admin_stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(2), admin_task).await;
    Ok(())
}

pub use weft_runtime::{init_logging, shutdown_signal};

/// Installs the certificates of `--certificates-dir` for the config's services.
fn install_certificates(
    proxy: &Proxy,
    dir: &std::path::Path,
    config: &weft_model::proxy::ProxyConfig,
) -> anyhow::Result<()> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {} (--certificates-dir)", path.display()))
    };
    let bundle = read("bundle.pem")?;
    let mut services: Vec<&str> = vec![config.service.as_str()];
    services.extend(
        config
            .inbound
            .iter()
            .filter_map(|inbound| inbound.tags.get("service").map(String::as_str)),
    );
    services.sort_unstable();
    services.dedup();
    for service in services {
        if !dir.join(format!("{service}.pem")).exists() {
            continue;
        }
        proxy
            .shared
            .identities
            .install(
                service,
                read(&format!("{service}.key"))?,
                read(&format!("{service}.pem"))?,
                bundle.clone(),
                0,
            )
            .map_err(|error| anyhow::anyhow!("the certificate of {service}: {error}"))?;
        tracing::info!(service, "certificate installed from --certificates-dir");
    }
    Ok(())
}

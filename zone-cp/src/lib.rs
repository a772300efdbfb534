//! weft-zone: the zone control plane.

pub mod cas;
pub mod config;
pub mod configs;
pub mod credentials;
pub mod dataplanes;
pub mod error;
pub mod health;
pub mod http;
pub mod insights;
pub mod metrics;
pub mod registrations;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod uplink;
pub mod xds;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::dataplanes::DataplaneService;
use crate::state::ZoneState;
use crate::store::ZoneStore;

const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let data_dir = config.data_dir();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let store = ZoneStore::open(&data_dir.join("zone.db"))
        .await
        .with_context(|| format!("cannot open the zone store in {}", data_dir.display()))?;
    let zone_token =
        weft_identity::tokens::read_token_file(&config.zone_token_file).with_context(|| {
            format!(
                "cannot read --zone-token-file {}",
                config.zone_token_file.display()
            )
        })?;
    if zone_token.is_empty() {
        anyhow::bail!(
            "--zone-token-file {} is empty; create a token with POST /api/v1/zones/{}/token",
            config.zone_token_file.display(),
            config.zone_name
        );
    }
    let global_ca = std::fs::read_to_string(&config.global_ca_file).with_context(|| {
        format!(
            "cannot read --global-ca-file {}",
            config.global_ca_file.display()
        )
    })?;
    let globals = config
        .global_address
        .iter()
        .map(|address| {
            weft_runtime::grpc::ControlClient::new(
                address.trim(),
                "--global-address",
                &global_ca,
                &zone_token,
            )
            .map_err(|error| {
                anyhow::anyhow!(
                    "{error} (--global-ca-file {})",
                    config.global_ca_file.display()
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if globals.is_empty() {
        anyhow::bail!("--global-address names no address");
    }
    let serving = config
        .tls
        .load(&data_dir, &format!("zone {}", config.zone_name))
        .context("the gRPC port's certificate")?;
    if let Some(ca_file) = &serving.ca_file {
        tracing::info!(ca_file = %ca_file.display(), "proxies trust this CA (weft-dp --zone-ca-file)");
    }
    let state = Arc::new(ZoneState::default());
    let loaded = uplink::load_state(&store, &state).await?;
    let credentials = Arc::new(credentials::Credentials::load(&store).await?);
    let cas = Arc::new(cas::ZoneCas::load(&store).await?);
    tracing::info!(zone = %config.zone_name, local_dataplanes = loaded, "zone store loaded");

    let grpc_listener = TcpListener::bind(config.grpc_address)
        .await
        .with_context(|| format!("cannot listen on {} (--grpc-address)", config.grpc_address))?;
    let http_listener = TcpListener::bind(config.http_address)
        .await
        .with_context(|| format!("cannot listen on {} (--http-address)", config.http_address))?;

    let (shutdown_sender, shutdown_receiver) = watch::channel(false);
    let metrics = Arc::new(metrics::Metrics::default());
    let telemetry = Arc::new(telemetry::Telemetry::default());
    let local_changes = Arc::new(watch::channel(0u64).0);
    let connected = Arc::new(AtomicBool::new(false));

    let mut dataplanes = DataplaneService::new(
        config.zone_name.clone(),
        store.clone(),
        state.clone(),
        local_changes.clone(),
        telemetry.clone(),
        config.dataplane_grace,
        metrics.clone(),
        shutdown_receiver.clone(),
    );
    dataplanes.credentials = credentials.clone();
    dataplanes.cas = cas.clone();
    dataplanes.allow_loopback = config.allow_loopback_dataplanes;
    tokio::spawn(compact_tombstones(
        store.clone(),
        config.tombstone_retention,
        shutdown_receiver.clone(),
    ));
    let configs_task = tokio::spawn(configs::run(
        dataplanes.configs.clone(),
        state.clone(),
        metrics.clone(),
        shutdown_receiver.clone(),
    ));
    let loaded_keys: Vec<(String, String)> = state
        .current()
        .meshes
        .iter()
        .flat_map(|(mesh, state)| {
            state
                .dataplanes
                .iter()
                .filter(|(_, entry)| entry.local)
                .map(|(name, _)| (mesh.clone(), name.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    dataplanes.expect_reconnects(loaded_keys);

    let uplink = uplink::Uplink {
        zone: config.zone_name.clone(),
        globals,
        current: 0,
        store: store.clone(),
        state: state.clone(),
        local_changes: local_changes.subscribe(),
        telemetry,
        connected: connected.clone(),
        metrics: metrics.clone(),
        health: dataplanes.health.clone(),
        credentials,
        cas: cas.clone(),
        sessions: dataplanes.sessions.clone(),
    };
    let uplink_task = tokio::spawn(uplink.run(shutdown_receiver.clone()));

    let http_state = http::HttpState {
        zone: config.zone_name.clone(),
        dataplanes: dataplanes.clone(),
        global_connected: connected,
        metrics,
        api_access: http::ApiAccess::new(
            http_listener.local_addr()?,
            match &config.http_token_file {
                Some(path) => {
                    let token = std::fs::read_to_string(path)
                        .with_context(|| {
                            format!("cannot read --http-token-file {}", path.display())
                        })?
                        .trim()
                        .to_string();
                    if token.is_empty() {
                        anyhow::bail!("--http-token-file {} is empty", path.display());
                    }
                    Some(token)
                }
                None => None,
            },
        ),
    };
    tracing::info!(
        zone = %config.zone_name,
        grpc_address = %grpc_listener.local_addr()?,
        http_address = %http_listener.local_addr()?,
        global = %config.global_address.join(","),
        "weft-zone listening"
    );
    let mut http_shutdown = shutdown_receiver.clone();
    let http_limits = config.servers.http_limits();
    let http_task = tokio::spawn(async move {
        weft_runtime::http_server::serve(
            http_listener,
            http::app(http_state),
            http_limits,
            async move {
                let _ = http_shutdown.wait_for(|stop| *stop).await;
            },
            std::time::Duration::from_secs(5),
        )
        .await;
        Ok::<(), std::io::Error>(())
    });
    let mut grpc_shutdown = shutdown_receiver.clone();
    let grpc_task = tokio::spawn(
        weft_runtime::grpc_server::builder(&serving.certificate_pem, &serving.key_pem)
            .context("the gRPC port's TLS settings")?
            .add_service(
                xds::AdsService {
                    dataplanes: dataplanes.clone(),
                }
                .into_server(),
            )
            .add_service(
                xds::load::LoadService {
                    dataplanes: dataplanes.clone(),
                }
                .into_server(),
            )
            .add_service(dataplanes.into_server())
            .serve_with_incoming_shutdown(
                weft_runtime::grpc_server::limited_incoming(
                    grpc_listener,
                    config.servers.grpc_max_connections as usize,
                ),
                async move {
                    let _ = grpc_shutdown.wait_for(|stop| *stop).await;
                },
            ),
    );

    shutdown.await;
    tracing::info!("shutting down");
    let _ = shutdown_sender.send(true);
    let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
        let _ = uplink_task.await;
        let _ = http_task.await;
        let _ = grpc_task.await;
        let _ = configs_task.await;
    })
    .await;
    if finished.is_err() {
        tracing::warn!("connections still open after the grace period; exiting anyway");
    }
    store.close().await;
    Ok(())
}

/// Removes the zone's tombstones older than `retention`, at start and then every hour (or
/// every quarter of the retention, when shorter).
async fn compact_tombstones(
    store: ZoneStore,
    retention: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let period = (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(3_600));
    let mut ticks = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = weft_runtime::stopped(&mut shutdown) => return,
        }
        let retention = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
        let before = jiff::Timestamp::now().as_second().saturating_sub(retention);
        match store.compact_local(before).await {
            Ok(0) => {}
            Ok(removed) => {
                tracing::info!(removed, "old tombstones of departed dataplanes compacted")
            }
            Err(error) => tracing::warn!(%error, "compacting tombstones failed"),
        }
    }
}

pub use weft_runtime::{init_logging, shutdown_signal};

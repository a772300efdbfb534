//! weft-global: the global control plane.

pub mod access;
pub mod auth;
pub mod ca;
pub mod config;
pub mod error;
pub mod http;
pub mod metrics;
pub mod replicas;
pub mod rollouts;
pub mod secrets;
pub mod store;
pub mod sync;
pub mod traffic;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{Authority, hash_password};
use crate::config::Config;
use crate::http::AppState;
use crate::store::{Store, UserRow};
use crate::traffic::{Thresholds, TrafficWindow};

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub const ADMIN_USER: &str = "admin";

/// Sets the admin password from configuration, or generates and prints one the first time.
/// A configured password that already matches is left alone, so restarts keep sessions.
async fn ensure_admin(store: &Store, config: &Config) -> anyhow::Result<()> {
    let existing = store.user(ADMIN_USER).await?;
    let password = match (&config.admin_password, &existing) {
        (Some(password), _) if password.0.len() < 8 => {
            anyhow::bail!("--admin-password must be at least 8 characters")
        }
        (Some(password), Some(user)) => {
            let (candidate, hash) = (password.0.clone(), user.password_hash.clone());
            let unchanged = tokio::task::spawn_blocking(move || {
                crate::auth::verify_password(&candidate, Some(&hash))
            })
            .await?;
            if unchanged && user.platform_admin {
                return Ok(());
            }
            password.0.clone()
        }
        (Some(password), None) => password.0.clone(),
        (None, Some(_)) => return Ok(()),
        (None, None) => {
            let generated: String = {
                use rand::Rng;
                use rand::distributions::Alphanumeric;
                rand::thread_rng()
                    .sample_iter(&Alphanumeric)
                    .take(20)
                    .map(char::from)
                    .collect()
            };
            eprintln!(
                "\n  generated password of the admin user: {generated}\n  (set WEFT_ADMIN_PASSWORD to choose one)\n"
            );
            generated
        }
    };
    let hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
    store
        .upsert_user(&UserRow::new(ADMIN_USER, hash, true))
        .await?;
    Ok(())
}

/// Runs weft-global until `shutdown` resolves.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
    }
    let url = config.database_url();
    let store = Store::connect(&url)
        .await
        .with_context(|| format!("cannot open the store at {}", store::redact(&url)))?;
    tracing::info!(backend = ?store.backend(), store_id = store.store_id(), "store ready");
    ensure_admin(&store, &config).await?;
    let authority = Arc::new(Authority::load(&store, config.token_ttl).await?);
    let secrets = Arc::new(secrets::Secrets::load_or_create(
        &config.secrets_key_file(),
    )?);
    let cas = Arc::new(ca::MeshCas::new(store.clone(), secrets));
    let serving = config
        .tls
        .load(&config.data_dir, "global")
        .context("the gRPC port's certificate")?;
    if let Some(ca_file) = &serving.ca_file {
        tracing::info!(ca_file = %ca_file.display(), "zones trust this CA (weft-zone --global-ca-file)");
    }

    let http_listener = TcpListener::bind(config.http_address)
        .await
        .with_context(|| format!("cannot listen on {} (--http-address)", config.http_address))?;
    let grpc_listener = TcpListener::bind(config.grpc_address)
        .await
        .with_context(|| format!("cannot listen on {} (--grpc-address)", config.grpc_address))?;

    let (shutdown_sender, shutdown_receiver) = watch::channel(false);
    // Replicas share one store only on Postgres; there they share telemetry and zone reports.
    let replicated = store.backend() == store::Backend::Postgres;
    let traffic = Arc::new(if replicated {
        TrafficWindow::sharing()
    } else {
        TrafficWindow::new()
    });
    let metrics = Arc::new(metrics::Metrics::default());
    let replica = replicas::Replica::new();
    tracing::info!(replica = %replica.id, "replica started");
    let (leadership, leader_task) = replicas::Leadership::start(
        store.clone(),
        replica.id.clone(),
        metrics.clone(),
        shutdown_receiver.clone(),
    );
    let state = AppState {
        store: store.clone(),
        authority: authority.clone(),
        cas: cas.clone(),
        traffic: traffic.clone(),
        metrics: metrics.clone(),
        console_dir: Some(config.console_dir.clone()),
        thresholds: Thresholds {
            failing: config.edge_failure_percent / 100.0,
        },
        shutdown: shutdown_receiver.clone(),
        login_guard: Arc::new(auth::guard::LoginGuard::default()),
        graph_hub: Arc::default(),
        graphql: http::graphql::schema(),
        rollouts_wake: Arc::default(),
    };
    let controller = rollouts::Controller::new(
        store.clone(),
        traffic.clone(),
        state.rollouts_wake.clone(),
        leadership.clone(),
    );
    let guard = state.login_guard.clone();
    let mut guard_shutdown = shutdown_receiver.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tick.tick() => guard.forget_stale(),
                _ = guard_shutdown.wait_for(|stop| *stop) => break,
            }
        }
    });
    if !config.console_dir.join("index.html").is_file() {
        tracing::warn!(dir = %config.console_dir.display(), "console assets not found; / explains how to build them");
    }

    let cas_driver = cas.clone();
    let mirror = replicated.then(|| replicas::Mirror {
        store: store.clone(),
        replica: replica.clone(),
        traffic: traffic.clone(),
        cas: cas.clone(),
    });
    let sync = sync::SyncService::new(
        store.clone(),
        authority,
        cas,
        traffic,
        metrics,
        shutdown_receiver.clone(),
        replica.clone(),
    );
    let http_address = http_listener.local_addr()?;
    let grpc_address = grpc_listener.local_addr()?;
    tracing::info!(%http_address, %grpc_address, "weft-global listening");

    let mut http_shutdown = shutdown_receiver.clone();
    let http = weft_runtime::http_server::serve(
        http_listener,
        http::app(state),
        config.servers.http_limits(),
        async move {
            let _ = http_shutdown.wait_for(|stop| *stop).await;
        },
        SHUTDOWN_GRACE,
    );
    let mut grpc_shutdown = shutdown_receiver.clone();
    let grpc = weft_runtime::grpc_server::builder(&serving.certificate_pem, &serving.key_pem)
        .context("the gRPC port's TLS settings")?
        .add_service(sync.into_server())
        .serve_with_incoming_shutdown(
            weft_runtime::grpc_server::limited_incoming(
                grpc_listener,
                config.servers.grpc_max_connections as usize,
            ),
            async move {
                let _ = grpc_shutdown.wait_for(|stop| *stop).await;
            },
        );

    let rotations = tokio::spawn(ca::drive(
        cas_driver,
        leadership.clone(),
        shutdown_receiver.clone(),
    ));
    let rollouts_task = tokio::spawn(controller.run(shutdown_receiver.clone()));
    let beat = tokio::spawn(replica.beat(store.clone(), shutdown_receiver.clone()));
    let follower = store.clone();
    let follow_shutdown = shutdown_receiver.clone();
    tokio::spawn(async move { follower.follow_other_replicas(follow_shutdown).await });
    let duties = tokio::spawn(
        replicas::Duties {
            store: store.clone(),
            leadership,
            settings: replicas::DutySettings {
                tombstone_retention: config.tombstone_retention,
            },
        }
        .run(shutdown_receiver.clone()),
    );
    let mirror = mirror.map(|mirror| tokio::spawn(mirror.run(shutdown_receiver.clone())));
    let http_task = tokio::spawn(http);
    let grpc_task = tokio::spawn(grpc);
    shutdown.await;
    tracing::info!("shutting down");
    let _ = shutdown_sender.send(true);
    let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
        let _ = http_task.await;
        let _ = grpc_task.await;
        let _ = rotations.await;
        let _ = rollouts_task.await;
        let _ = duties.await;
        if let Some(mirror) = mirror {
            let _ = mirror.await;
        }
        // Last: the lease and this replica's zones are handed over before the store closes.
        let _ = leader_task.await;
        let _ = beat.await;
    })
    .await;
    if finished.is_err() {
        tracing::warn!("connections still open after the grace period; exiting anyway");
    }
    store.close().await;
    Ok(())
}

pub use weft_runtime::{init_logging, shutdown_signal};

//! Two weft-global replicas on one Postgres act as one global: a write through either reaches
//! a zone connected to the other, both see the zone online, telemetry received by one shows in
//! the other's graph, exactly one leads, and killing the leader (no goodbye) hands the
//! singleton work to the other while the zone fails over to it.

use std::time::{Duration, Instant};

use weft_e2e::topology::{Global, GlobalOptions, Zone};
use weft_e2e::{free_port, wait_until};
use weft_testkit::postgres::PgCluster;

const PASSWORD: &str = "e2e-admin-password";

fn tenant_and_mesh(mesh: &str) -> String {
    format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Tenant\nmetadata: {{name: {mesh}-team}}\nspec: {{displayName: {mesh}}}\n---\napiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {{name: {mesh}}}\nspec: {{tenant: {mesh}-team}}\n"
    )
}

fn zone_online(global: &Global, zone: &str) -> bool {
    global
        .api()
        .get(&format!("/api/v1/zones/{zone}"))
        .is_ok_and(|(status, body)| status == 200 && body["status"]["online"] == true)
}

#[test]
fn two_replicas_on_one_postgres_act_as_one_global() {
    let cluster = PgCluster::start();
    let database = cluster.fresh_database();
    let work = tempfile::tempdir().unwrap();
    let options = || GlobalOptions {
        database_url: Some(database.clone()),
        ..GlobalOptions::local(PASSWORD)
    };
    let mut replicas = [
        Global::start_named(work.path(), "weft-global-a", options()),
        Global::start_named(work.path(), "weft-global-b", options()),
    ];
    wait_until("exactly one replica leads", Duration::from_secs(30), || {
        (replicas[0].leads() != replicas[1].leads()).then_some(())
    });

    // Zone east dials replica b first, a when b fails.
    let token = replicas[0].api().zone_token("east");
    let addresses = format!(
        "--global-address={},{}",
        replicas[1].grpc_url(),
        replicas[0].grpc_url()
    );
    let zone = Zone::start_with(
        work.path(),
        "east",
        &replicas[1].upstream(),
        free_port(),
        free_port(),
        &token,
        &[addresses],
    );
    // A write through a reaches the zone held by b; a sees the zone online.
    replicas[0].api().apply_all(&tenant_and_mesh("shop"));
    zone.wait_for_mesh("shop");
    wait_until(
        "a sees the zone b holds online",
        Duration::from_secs(30),
        || zone_online(&replicas[0], "east").then_some(()),
    );

    // Telemetry a simulated zone sends to a shows in b's graph.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mesh = weft_sim::mesh::SyntheticMesh::generate("shop", 3, 2, 7);
    let ca = std::fs::read_to_string(&replicas[0].upstream().ca_file).unwrap();
    let west_token = replicas[0].api().zone_token("west");
    let grpc_a = replicas[0].grpc_url();
    let west = runtime.block_on(async {
        let mut west = weft_sim::zone::SimZone::connect(&grpc_a, &ca, &west_token, "west")
            .await
            .expect("the simulated zone connects to a");
        west.register("shop", &mesh.dataplanes())
            .await
            .expect("dataplanes registered");
        west
    });
    let traffic = mesh.clone();
    let reporting = runtime.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if west.report("shop", traffic.one_second()).await.is_err() {
                return;
            }
        }
    });
    let api_b = replicas[1].api();
    wait_until(
        "b's graph shows the calls a received",
        Duration::from_secs(30),
        || {
            let (status, graph) = api_b.get("/api/v1/meshes/shop/graph").ok()?;
            (status == 200 && graph["edges"].as_array()?.len() == 2).then_some(())
        },
    );
    reporting.abort();

    // Kill the leader without a goodbye: the other takes over the singleton work, and the zone
    // (moved over if it was on the dead replica) gets writes made through the survivor.
    let leader = usize::from(replicas[1].leads());
    let survivor = 1 - leader;
    let killed = Instant::now();
    replicas[leader].process.kill();
    wait_until("the survivor leads", Duration::from_secs(30), || {
        replicas[survivor].leads().then_some(())
    });
    eprintln!(
        "the survivor took the lead {:.1} s after the leader was killed",
        killed.elapsed().as_secs_f64()
    );
    replicas[survivor]
        .api()
        .apply_all(&tenant_and_mesh("after"));
    zone.wait_for_mesh("after");
    wait_until(
        "the zone is online through the survivor",
        Duration::from_secs(30),
        || zone_online(&replicas[survivor], "east").then_some(()),
    );
}

#[test]
fn global_rides_out_a_postgres_restart_and_loses_nothing() {
    let cluster = PgCluster::start();
    let work = tempfile::tempdir().unwrap();
    let global = Global::start(
        work.path(),
        GlobalOptions {
            database_url: Some(cluster.fresh_database()),
            ..GlobalOptions::local(PASSWORD)
        },
    );
    let api = global.api();
    api.apply_all(&tenant_and_mesh("before"));

    cluster.pause();
    let ready = format!("{}/readyz", global.url());
    wait_until("global reports not ready", Duration::from_secs(30), || {
        (weft_e2e::api::status(&ready) == Some(503)).then_some(())
    });
    let (status, body) = api
        .put(
            "/api/v1/tenants/during-team",
            "apiVersion: weft.dev/v1alpha1\nkind: Tenant\nmetadata: {name: during-team}\nspec: {displayName: during}\n",
        )
        .unwrap();
    assert_eq!(
        status, 503,
        "a write without the store fails clearly: {body}"
    );
    assert_eq!(body["error"]["code"], "unavailable", "{body}");

    cluster.resume();
    wait_until("global is ready again", Duration::from_secs(60), || {
        (weft_e2e::api::status(&ready) == Some(200)).then_some(())
    });
    let (status, mesh) = api.get("/api/v1/meshes/before").unwrap();
    assert_eq!(status, 200, "what was acknowledged before survives: {mesh}");
    let (status, _) = api.get("/api/v1/tenants/during-team").unwrap();
    assert_eq!(status, 404, "the refused write left nothing behind");
    wait_until(
        "writes succeed again without a restart of global",
        Duration::from_secs(30),
        || {
            let (status, _) = api
                .put(
                    "/api/v1/tenants/after-team",
                    "apiVersion: weft.dev/v1alpha1\nkind: Tenant\nmetadata: {name: after-team}\nspec: {displayName: after}\n",
                )
                .ok()?;
            (status == 201).then_some(())
        },
    );
}

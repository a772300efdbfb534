//! The console in a real headless Chromium: log in, open the shop mesh, and find live graph
//! edges with non-zero request rates, fed by real traffic through the proxies.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;
use weft_e2e::process::Process;
use weft_e2e::shop::{Ports, Shop, ShopOptions};
use weft_e2e::{api, free_port, wait_until};

const PASSWORD: &str = "console-test-password";

fn console_dir() -> PathBuf {
    let dir = std::env::var("WEFT_CONSOLE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console"));
    assert!(
        dir.join("index.html").is_file(),
        "console assets missing in {}: build them with `cargo xtask console` (`cargo xtask test` does)",
        dir.display()
    );
    dir
}

fn executable(variable: &str, default: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var(variable).unwrap_or_else(|_| default.to_string()));
    assert!(
        path.is_file(),
        "{} not found; install it (Debian: apt-get install chromium chromium-driver) or set {variable}",
        path.display()
    );
    path
}

fn start_chromedriver(work: &std::path::Path) -> (Process, u16) {
    let port = free_port();
    let driver = executable("WEFT_CHROMEDRIVER", "/usr/bin/chromedriver");
    let process = Process::spawn(
        "chromedriver",
        &driver,
        &[format!("--port={port}")],
        &[],
        work,
    );
    wait_until("chromedriver to answer", Duration::from_secs(30), || {
        (api::status(&format!("http://127.0.0.1:{port}/status")) == Some(200)).then_some(())
    });
    (process, port)
}

async fn browser(port: u16, profile: &std::path::Path) -> WebDriverResult<WebDriver> {
    let mut capabilities = DesiredCapabilities::chrome();
    capabilities.set_binary(
        &executable("WEFT_CHROMIUM", "/usr/bin/chromium")
            .display()
            .to_string(),
    )?;
    for argument in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ] {
        capabilities.add_arg(argument)?;
    }
    capabilities.add_arg(&format!("--user-data-dir={}", profile.display()))?;
    WebDriver::new(format!("http://127.0.0.1:{port}"), capabilities).await
}

/// Polls `find` every 100 ms until it returns `Some`, failing after `deadline`.
async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut find: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = find().await {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The Timeout example (kept here so the e2e crate does not depend on the model).
fn weft_model_example_timeout() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/model/manifests/timeouts.yaml"),
    )
    .expect("the Timeout example")
}

/// Opens the GraphQL explorer at `/api/graphql` (as a fresh page load), runs `query` and
/// returns the answer once it shows.
async fn graphql(driver: &WebDriver, base: &str, query: &str) -> WebDriverResult<String> {
    driver.goto(format!("{base}/api/graphql")).await?;
    eventually(
        "the schema's MeshNode type",
        Duration::from_secs(20),
        || async {
            driver
                .find(By::Css(".graphql-schema details[data-type=MeshNode]"))
                .await
                .ok()
        },
    )
    .await;
    let editor = driver.find(By::Css("textarea[name=query]")).await?;
    editor.clear().await?;
    editor.send_keys(query).await?;
    driver.find(By::Css("button.run")).await?.click().await?;
    let answer = eventually("the answer", Duration::from_secs(20), || async {
        let text = driver
            .find(By::Css("pre.answer"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains("\"data\"").then_some(text)
    })
    .await;
    Ok(answer)
}

async fn edge_rates(driver: &WebDriver) -> Vec<(String, f64)> {
    let mut rates = Vec::new();
    let Ok(edges) = driver.find_all(By::Css("svg g.edge")).await else {
        return rates;
    };
    for edge in edges {
        let name = edge
            .attr("data-edge")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let rate = edge
            .attr("data-rps")
            .await
            .ok()
            .flatten()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0.0);
        rates.push((name, rate));
    }
    rates
}

#[test]
fn login_open_mesh_and_watch_live_edges() {
    let work = tempfile::tempdir().unwrap();
    let shop = Shop::start(ShopOptions {
        work_dir: work.path().to_path_buf(),
        ports: Ports::Free,
        admin_password: PASSWORD.into(),
        console_dir: Some(console_dir()),
        load_rps: 20.0,
        canary_route: true,
        ..ShopOptions::default()
    });
    shop.add_demo_tenants(PASSWORD);
    let (_chromedriver, driver_port) = start_chromedriver(work.path());
    let base = shop.global.url();
    let screenshot = shot("graph");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let driver = browser(driver_port, &work.path().join("chromium-profile"))
            .await
            .expect("chromium starts");
        let mut inaccessible = Vec::new();
        let result = async {
            // Without a session every page sends you to the login form.
            driver.goto(format!("{base}/meshes/shop")).await?;
            let user = eventually("the login form", Duration::from_secs(20), || async {
                driver.find(By::Css("input[name=username]")).await.ok()
            })
            .await;
            audit(&driver, "login", &mut inaccessible).await;

            // A wrong password is refused with a message.
            user.clear().await?;
            user.send_keys("admin").await?;
            driver
                .find(By::Css("input[name=password]"))
                .await?
                .send_keys("wrong-password")
                .await?;
            driver
                .find(By::Css("button[type=submit]"))
                .await?
                .click()
                .await?;
            let alert = eventually("the login error", Duration::from_secs(10), || async {
                driver.find(By::Css("[role=alert]")).await.ok()
            })
            .await;
            assert!(alert.text().await?.contains("wrong username or password"));

            let password = driver.find(By::Css("input[name=password]")).await?;
            password.clear().await?;
            password.send_keys(PASSWORD).await?;
            driver
                .find(By::Css("button[type=submit]"))
                .await?
                .click()
                .await?;

            let mesh = eventually(
                "the shop mesh in the list",
                Duration::from_secs(20),
                || async { driver.find(By::Css("a[data-mesh=shop]")).await.ok() },
            )
            .await;
            audit(&driver, "meshes", &mut inaccessible).await;
            mesh.click().await?;

            let live = eventually(
                "graph edges with live, non-zero rates",
                Duration::from_secs(45),
                || async {
                    let rates = edge_rates(&driver).await;
                    let live: Vec<(String, f64)> =
                        rates.into_iter().filter(|(_, rate)| *rate > 0.0).collect();
                    let has = |name: &str| live.iter().any(|(edge, _)| edge == name);
                    (has("external->web/v1")
                        && has("web/v1->catalog/v1")
                        && has("web/v1->catalog/v2")
                        && has("web/v1->orders/v1"))
                    .then_some(live)
                },
            )
            .await;
            assert!(
                live.iter().all(|(_, rate)| *rate > 0.0 && *rate < 1000.0),
                "{live:?}"
            );
            // The shop is a permissive mesh: proxies talk mTLS, traffic from outside is plaintext.
            let locked = eventually(
                "a lock on the mTLS edge",
                Duration::from_secs(20),
                || async {
                    driver
                        .find(By::Css(
                            "g.edge[data-edge='web/v1->orders/v1'][data-mtls=true] g.lock",
                        ))
                        .await
                        .ok()
                },
            )
            .await;
            assert!(locked.is_displayed().await?);
            let ingress = driver
                .find(By::Css("g.edge[data-edge='external->web/v1']"))
                .await?;
            assert_eq!(ingress.attr("data-mtls").await?.as_deref(), Some("false"));
            assert!(ingress.find(By::Css("g.lock")).await.is_err());
            let status = driver.find(By::Css(".stream-status")).await?;
            assert_eq!(status.attr("data-status").await?.as_deref(), Some("live"));
            let services = driver.find_all(By::Css("table.services tbody tr")).await?;
            assert_eq!(services.len(), 4, "web, catalog, inventory, orders");

            // The graph page's first paint after a fresh load, as the Performance API saw it
            // (recorded for docs/benchmarks.md by `cargo xtask screenshots`, not asserted).
            driver.goto(format!("{base}/meshes/shop")).await?;
            let painted = eventually("the graph's paint mark", Duration::from_secs(20), || {
                mark(&driver, "weft-graph-painted")
            })
            .await;
            std::fs::write(
                shot("timings").with_extension("json"),
                serde_json::json!({"graphFirstPaintMs": painted}).to_string(),
            )
            .expect("timings written");
            // Edge labels by mode: p99 latency instead of the rate.
            let labels = driver.find(By::Css("select[name=labels]")).await?;
            thirtyfour::components::SelectElement::new(&labels)
                .await?
                .select_by_value("p99")
                .await?;
            eventually("p99 labels", Duration::from_secs(10), || async {
                let label = driver
                    .find(By::Css(
                        "g.edge[data-edge='web/v1->orders/v1'] text.edge-label",
                    ))
                    .await
                    .ok()?;
                label.text().await.ok()?.contains("p99").then_some(())
            })
            .await;
            // Find highlights, hide removes a service and its edges.
            driver
                .find(By::Css("input[name=find]"))
                .await?
                .send_keys("catalog")
                .await?;
            eventually(
                "catalog found, web dimmed",
                Duration::from_secs(10),
                || async {
                    driver
                        .find(By::Css("g.node.match[data-node='catalog/v1']"))
                        .await
                        .ok()?;
                    driver
                        .find(By::Css("g.node.dimmed[data-node='web/v1']"))
                        .await
                        .ok()
                },
            )
            .await;
            driver
                .find(By::Css("input[name=find]"))
                .await?
                .clear()
                .await?;
            let hide = driver.find(By::Css("input[name=hide]")).await?;
            hide.send_keys("orders").await?;
            eventually("orders hidden", Duration::from_secs(10), || async {
                driver
                    .find(By::Css("g.node[data-node='orders/v1']"))
                    .await
                    .is_err()
                    .then_some(())
            })
            .await;
            assert!(
                driver
                    .find(By::Css("g.edge[data-edge='web/v1->orders/v1']"))
                    .await
                    .is_err()
            );
            hide.clear().await?;
            // A click on an edge opens its figures and sparklines; on a node, its dataplanes.
            eventually(
                "the web → orders edge back",
                Duration::from_secs(10),
                || async {
                    driver
                        .find(By::Css("g.edge[data-edge='web/v1->orders/v1'] path"))
                        .await
                        .ok()
                },
            )
            .await
            .click()
            .await?;
            let title = eventually("the edge panel", Duration::from_secs(10), || async {
                driver.find(By::Css(".side-panel .panel-title")).await.ok()
            })
            .await;
            assert_eq!(title.text().await?, "web/v1 → orders/v1");
            eventually("a sparkline", Duration::from_secs(10), || async {
                let line = driver
                    .find(By::Css(".side-panel .spark-rate path.series"))
                    .await
                    .ok()?;
                (!line.attr("d").await.ok()??.is_empty()).then_some(())
            })
            .await;
            driver
                .find(By::Css("g.node[data-node='catalog/v1'] rect"))
                .await?
                .click()
                .await?;
            eventually(
                "catalog's dataplane in the panel",
                Duration::from_secs(10),
                || async {
                    driver
                        .find(By::Css(".side-panel .panel-dataplanes a"))
                        .await
                        .ok()?
                        .text()
                        .await
                        .ok()
                        .filter(|text| text == "catalog-v1-east")
                },
            )
            .await;
            // By service: one catalog node for both versions, and back.
            driver
                .find(By::Css("input[name=by-service]"))
                .await?
                .click()
                .await?;
            eventually("one catalog node", Duration::from_secs(10), || async {
                driver.find(By::Css("g.node[data-node=catalog]")).await.ok()?;
                driver
                    .find(By::Css("g.node[data-node='catalog/v2']"))
                    .await
                    .is_err()
                    .then_some(())
            })
            .await;
            driver
                .find(By::Css("input[name=by-service]"))
                .await?
                .click()
                .await?;
            eventually("the versions again", Duration::from_secs(10), || async {
                driver.find(By::Css("g.node[data-node='catalog/v2']")).await.ok()
            })
            .await;
            // Zones as boxes: the shop spans east and west.
            driver.find(By::Css("input[name=zones]")).await?.click().await?;
            eventually("a box per zone", Duration::from_secs(10), || async {
                driver
                    .find(By::Css("g.zone-box[data-zone='zone east']"))
                    .await
                    .ok()?;
                driver
                    .find(By::Css("g.zone-box[data-zone='zone west']"))
                    .await
                    .ok()
            })
            .await;
            driver.screenshot(&shot("zones")).await?;
            audit(&driver, "graph by zone", &mut inaccessible).await;
            driver.find(By::Css("input[name=zones]")).await?.click().await?;
            eventually("no boxes again", Duration::from_secs(10), || async {
                driver
                    .find_all(By::Css("g.zone-box"))
                    .await
                    .ok()?
                    .is_empty()
                    .then_some(())
            })
            .await;

            // Drag a node: it stays where it was dropped (pinned) until released.
            let transform = |id: &'static str| {
                let driver = driver.clone();
                async move {
                    driver
                        .find(By::Css(format!("g.node[data-node='{id}']")))
                        .await
                        .ok()?
                        .attr("transform")
                        .await
                        .ok()?
                }
            };
            let before = transform("orders/v1").await.expect("orders' place");
            let orders = driver.find(By::Css("g.node[data-node='orders/v1'] rect")).await?;
            driver
                .action_chain()
                .drag_and_drop_element_by_offset(&orders, 0, 120)
                .perform()
                .await?;
            let moved = eventually("orders pinned elsewhere", Duration::from_secs(10), || async {
                driver
                    .find(By::Css("g.node.pinned[data-node='orders/v1']"))
                    .await
                    .ok()?;
                transform("orders/v1").await.filter(|now| *now != before)
            })
            .await;
            // Live updates keep it there.
            let generated = driver.find(By::Css(".stream-status")).await?.text().await?;
            eventually("a newer graph", Duration::from_secs(10), || async {
                let now = driver.find(By::Css(".stream-status")).await.ok()?.text().await.ok()?;
                (now != generated).then_some(())
            })
            .await;
            assert_eq!(transform("orders/v1").await, Some(moved));
            driver.find(By::Css("button[name=unpin]")).await?.click().await?;
            eventually("orders back in its slot", Duration::from_secs(10), || async {
                (transform("orders/v1").await? == before).then_some(())
            })
            .await;

            // The keyboard reaches the graph: Enter on a focused node opens its panel.
            let web = driver.find(By::Css("g.node[data-node='web/v1']")).await?;
            web.focus().await?;
            web.send_keys(Key::Enter).await?;
            eventually("web's panel from the keyboard", Duration::from_secs(10), || async {
                let title = driver.find(By::Css(".side-panel .panel-title")).await.ok()?;
                (title.text().await.ok()? == "web/v1").then_some(())
            })
            .await;
            // Another window restarts the stream over it.
            let window = driver.find(By::Css("select[name=window]")).await?;
            thirtyfour::components::SelectElement::new(&window)
                .await?
                .select_by_value("1m")
                .await?;
            eventually(
                "the 1 min window, live",
                Duration::from_secs(20),
                || async {
                    driver
                        .find(By::Css(".graph-area[data-window='1m']"))
                        .await
                        .ok()?;
                    let status = driver.find(By::Css(".stream-status")).await.ok()?;
                    (status.attr("data-status").await.ok()?.as_deref() == Some("live"))
                        .then_some(())
                },
            )
            .await;
            // Replay a minute ago from the stored window, then back to live.
            let replay = driver.find(By::Css("input[name=replay]")).await?;
            driver
                .execute(
                    "arguments[0].value = Number(arguments[0].max) - 60; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
                    vec![replay.to_json()?],
                )
                .await?;
            eventually("the replay of a minute ago", Duration::from_secs(10), || async {
                let status = driver.find(By::Css(".stream-status")).await.ok()?;
                let value = driver.find(By::Css(".replay-value")).await.ok()?;
                (status.attr("data-status").await.ok()?.as_deref() == Some("replay")
                    && value.text().await.ok()? == "1 min ago")
                    .then_some(())
            })
            .await;
            driver
                .find(By::Css("button.back-to-live"))
                .await?
                .click()
                .await?;
            eventually("live again", Duration::from_secs(10), || async {
                let status = driver.find(By::Css(".stream-status")).await.ok()?;
                (status.attr("data-status").await.ok()?.as_deref() == Some("live")).then_some(())
            })
            .await;
            driver.screenshot(&screenshot).await?;
            audit(&driver, "mesh graph", &mut inaccessible).await;

            // Manifests are validated in the browser before anything is sent.
            driver.goto(format!("{base}/apply")).await?;
            let editor = eventually("the manifest editor", Duration::from_secs(20), || async {
                driver.find(By::Css("textarea[name=manifests]")).await.ok()
            })
            .await;
            let invalid = weft_model_example_timeout().replace("connect: 1s", "connect: soon");
            editor.send_keys(&invalid).await?;
            driver
                .find(By::Css("button[name=apply]"))
                .await?
                .click()
                .await?;
            audit(&driver, "apply", &mut inaccessible).await;
            let problem = eventually("the field error", Duration::from_secs(10), || async {
                driver
                    .find(By::Css("[data-outcome=invalid] code.field"))
                    .await
                    .ok()
            })
            .await;
            assert_eq!(problem.text().await?, "spec.to[0].default.connect");
            let (status, _) = shop
                .global
                .api()
                .get("/api/v1/meshes/shop/timeouts/defaults")
                .unwrap();
            assert_eq!(status, 404, "an invalid manifest is never sent");

            // A template from the model, applied for real.
            let select = driver.find(By::Css("select[name=template]")).await?;
            select
                .find(By::Css("option[value=Timeout]"))
                .await?
                .click()
                .await?;
            // First a preview: which proxies it would change, and nothing written.
            driver
                .find(By::Css("button[name=preview]"))
                .await?
                .click()
                .await?;
            let effect = eventually(
                "the preview of web's changes",
                Duration::from_secs(10),
                || async {
                    driver
                        .find(By::Css(
                            "[data-outcome=preview] table.effects tr[data-dataplane=web-east]",
                        ))
                        .await
                        .ok()
                },
            )
            .await;
            let effect = effect.text().await?;
            assert!(
                effect.contains("Timeout/defaults") && effect.contains("timeout"),
                "{effect}"
            );
            let (status, _) = shop
                .global
                .api()
                .get("/api/v1/meshes/shop/timeouts/defaults")
                .unwrap();
            assert_eq!(status, 404, "a preview writes nothing");
            driver
                .find(By::Css("button[name=apply]"))
                .await?
                .click()
                .await?;
            let result = eventually("the apply result", Duration::from_secs(10), || async {
                driver
                    .find(By::Css("[data-outcome=applied] td.result"))
                    .await
                    .ok()
            })
            .await;
            assert_eq!(result.text().await?, "created");

            // Inspect a proxy from the mesh page: the applied Timeout is among the policies that
            // apply, with the setting it produced.
            driver.goto(format!("{base}/meshes/shop")).await?;
            // Each dataplane's session as its zone reports it: connected, config applied,
            // when its certificate expires.
            let row = eventually(
                "web's dataplane connected with its config applied",
                Duration::from_secs(20),
                || async {
                    let row = driver.find(By::Css("tr[data-dataplane=web-east]")).await.ok()?;
                    row.find(By::Css("td[data-connected=true]")).await.ok()?;
                    let text = row.text().await.ok()?;
                    text.contains(" applied").then_some(row)
                },
            )
            .await;
            let expires = row.find(By::Css("td.certificate")).await?.text().await?;
            assert!(expires.ends_with(" UTC"), "certificate expiry: {expires:?}");
            row.find(By::Css("a")).await?.click().await?;
            eventually("the session on the inspect page", Duration::from_secs(20), || async {
                driver
                    .find(By::Css("dl.session dd[data-connected=true]"))
                    .await
                    .ok()
            })
            .await;
            eventually(
                "the Timeout in web's policies",
                Duration::from_secs(20),
                || async {
                    driver
                        .find(By::Css("table.policies tr[data-policy='Timeout/defaults']"))
                        .await
                        .ok()
                },
            )
            .await;
            let setting = driver
                .find(By::Css(
                    "table.provenance tr[data-setting='outbound[catalog].timeout.request']",
                ))
                .await?;
            assert!(setting.text().await?.contains("Timeout/defaults"));
            let outbound = driver
                .find(By::Css("table.outbound tr[data-outbound=catalog]"))
                .await?;
            assert!(outbound.text().await?.contains("catalog"));
            driver.screenshot(&shot("dataplane")).await?;
            audit(&driver, "dataplane", &mut inaccessible).await;

            // The policy in the editor: validated as it is typed, the change shown, and a
            // conflict with someone else's edit explained and overwritten on request.
            driver.goto(format!("{base}/meshes/shop")).await?;
            eventually("the policies link", Duration::from_secs(20), || async {
                driver.find(By::Css("a.policies-link")).await.ok()
            })
            .await
            .click()
            .await?;
            let timeout_link = eventually(
                "the Timeout in the policies",
                Duration::from_secs(20),
                || async {
                    driver
                        .find(By::Css("li[data-policy='Timeout/defaults'] a"))
                        .await
                        .ok()
                },
            )
            .await;
            audit(&driver, "policies", &mut inaccessible).await;
            timeout_link.click().await?;
            let editor = eventually("the policy editor", Duration::from_secs(20), || async {
                let editor = driver.find(By::Css("textarea[name=manifest]")).await.ok()?;
                let text = editor.prop("value").await.ok()??;
                text.contains("request: 15s").then_some(editor)
            })
            .await;
            // The YAML is highlighted: keys, and the duration as a plain scalar.
            let keys = driver
                .find_all(By::Css(".code-editor pre.highlight span.y-key"))
                .await?;
            let mut names = Vec::new();
            for key in keys {
                names.push(key.text().await?);
            }
            assert!(
                names.iter().any(|name| name == "kind") && names.iter().any(|name| name == "request"),
                "highlighted keys: {names:?}"
            );
            driver.screenshot(&shot("policy-yaml")).await?;
            audit(&driver, "policy YAML editor", &mut inaccessible).await;
            let stored = editor.prop("value").await?.unwrap_or_default();
            editor.clear().await?;
            editor
                .send_keys(stored.replace("request: 15s", "request: later"))
                .await?;
            let field = eventually(
                "the field error as typed",
                Duration::from_secs(10),
                || async { driver.find(By::Css(".validation code.field")).await.ok() },
            )
            .await;
            assert_eq!(field.text().await?, "spec.to[0].default.request");
            assert!(
                !driver
                    .find(By::Css("button[name=save]"))
                    .await?
                    .is_enabled()
                    .await?
            );
            editor.clear().await?;
            editor
                .send_keys(stored.replace("request: 15s", "request: 20s"))
                .await?;
            eventually("valid again", Duration::from_secs(10), || async {
                driver
                    .find(By::Css(".validation [data-valid=true]"))
                    .await
                    .ok()
            })
            .await;
            // Which proxies the edit would change, before saving.
            driver
                .find(By::Css("button[name=preview]"))
                .await?
                .click()
                .await?;
            eventually("web among the proxies it changes", Duration::from_secs(10), || async {
                driver
                    .find(By::Css(".preview table.effects tr[data-dataplane=web-east]"))
                    .await
                    .ok()
            })
            .await;
            driver
                .find(By::Css("button[name=diff]"))
                .await?
                .click()
                .await?;
            let added = driver.find(By::Css(".diff .added")).await?.text().await?;
            assert!(added.contains("request: 20s"), "{added}");
            // Meanwhile someone else changes it.
            let api = shop.global.api();
            api.apply(
                "/api/v1/meshes/shop/timeouts/defaults",
                &weft_model_example_timeout().replace("request: 15s", "request: 9s"),
            );
            driver
                .find(By::Css("button[name=save]"))
                .await?
                .click()
                .await?;
            eventually(
                "the conflict explained",
                Duration::from_secs(10),
                || async {
                    driver
                        .find(By::Css(".conflict button[name=overwrite]"))
                        .await
                        .ok()
                },
            )
            .await
            .click()
            .await?;
            eventually("saved over theirs", Duration::from_secs(10), || async {
                driver.find(By::Css("[data-saved]")).await.ok()
            })
            .await;
            let (_, timeout) = api.get("/api/v1/meshes/shop/timeouts/defaults").unwrap();
            assert_eq!(timeout["spec"]["to"][0]["default"]["request"], "20s");

            // The route's form: moving one weight slider moves the other, the sum stays 100.
            driver
                .goto(format!("{base}/meshes/shop/policies/trafficroutes/catalog-canary"))
                .await?;
            eventually("the route in the editor", Duration::from_secs(20), || async {
                let editor = driver.find(By::Css("textarea[name=manifest]")).await.ok()?;
                editor.prop("value").await.ok()??.contains("weight").then_some(())
            })
            .await;
            driver.find(By::Css("button[name=view-form]")).await?.click().await?;
            let slider = eventually("the weight sliders", Duration::from_secs(10), || async {
                driver
                    .find(By::Css(
                        "input[type=range][data-field='spec.to[0].rules[0].backends[0].weight']",
                    ))
                    .await
                    .ok()
            })
            .await;
            driver
                .execute(
                    "arguments[0].value = 35; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
                    vec![slider.to_json()?],
                )
                .await?;
            eventually("the other weight at 65", Duration::from_secs(10), || async {
                let other = driver
                    .find(By::Css(
                        "input[type=range][data-field='spec.to[0].rules[0].backends[1].weight']",
                    ))
                    .await
                    .ok()?;
                (other.prop("value").await.ok()??.as_str() == "65").then_some(())
            })
            .await;
            driver.find(By::Css("button[name=view-yaml]")).await?.click().await?;
            let yaml = driver
                .find(By::Css("textarea[name=manifest]"))
                .await?
                .prop("value")
                .await?
                .unwrap_or_default();
            assert!(
                yaml.contains("weight: 35") && yaml.contains("weight: 65"),
                "{yaml}"
            );

            // A policy made with the form: a 100 % abort on orders. A bad value shows under its
            // field; saved, it applies to orders' proxy and turns web → orders red.
            driver.goto(format!("{base}/meshes/shop/policies")).await?;
            let chooser = eventually(
                "the new-policy chooser",
                Duration::from_secs(20),
                || async { driver.find(By::Css("select[name=new-policy]")).await.ok() },
            )
            .await;
            thirtyfour::components::SelectElement::new(&chooser)
                .await?
                .select_by_value("faultinjections")
                .await?;
            eventually(
                "the form of a new policy",
                Duration::from_secs(20),
                || async {
                    driver
                        .find(By::Css(".policy-form [data-field='metadata.name']"))
                        .await
                        .ok()
                },
            )
            .await;
            set_field(&driver, "metadata.name", "orders-down").await?;
            set_field(&driver, "spec.targetRef.name", "orders").await?;
            set_field(&driver, "spec.from[0].targetRef.name", "web").await?;
            set_field(&driver, "spec.from[0].default.delay.percent", "0").await?;
            set_field(&driver, "spec.from[0].default.abort.percent", "150").await?;
            let error = eventually(
                "the error under the percent",
                Duration::from_secs(10),
                || async {
                    driver
                        .find(By::Css(
                            "[data-field='spec.from[0].default.abort.percent'] ~ p.field-error",
                        ))
                        .await
                        .ok()
                },
            )
            .await;
            assert!(
                error.text().await?.contains("100"),
                "{}",
                error.text().await?
            );
            set_field(&driver, "spec.from[0].default.abort.percent", "100").await?;
            eventually("a valid policy", Duration::from_secs(10), || async {
                driver
                    .find(By::Css(".validation [data-valid=true]"))
                    .await
                    .ok()
            })
            .await;
            driver.screenshot(&shot("policy-form")).await?;
            audit(&driver, "policy form", &mut inaccessible).await;
            driver
                .find(By::Css("button[name=save]"))
                .await?
                .click()
                .await?;
            eventually(
                "the new policy's own page",
                Duration::from_secs(20),
                || async {
                    let name = driver.find(By::Css(".policy-name")).await.ok()?;
                    (name.text().await.ok()? == "orders-down").then_some(())
                },
            )
            .await;
            driver
                .goto(format!("{base}/meshes/shop/dataplanes/orders-west"))
                .await?;
            eventually(
                "the fault among orders' policies",
                Duration::from_secs(20),
                || async {
                    driver
                        .find(By::Css(
                            "table.policies tr[data-policy='FaultInjection/orders-down']",
                        ))
                        .await
                        .ok()
                },
            )
            .await;
            driver.goto(format!("{base}/meshes/shop")).await?;
            eventually("web → orders failing", Duration::from_secs(30), || async {
                driver
                    .find(By::Css("g.edge.failing[data-edge='web/v1->orders/v1']"))
                    .await
                    .ok()
            })
            .await;
            let (status, _) = shop
                .global
                .api()
                .delete("/api/v1/meshes/shop/faultinjections/orders-down")
                .unwrap();
            assert_eq!(status, 204);

            // Zones, reached from the navigation: both connected.
            driver.find(By::Css("a.nav-zones")).await?.click().await?;
            for zone in ["east", "west"] {
                eventually(
                    &format!("zone {zone} online"),
                    Duration::from_secs(20),
                    || async {
                        driver
                            .find(By::Css(format!("tr[data-zone={zone}][data-online=true]")))
                            .await
                            .ok()
                    },
                )
                .await;
            }
            audit(&driver, "zones", &mut inaccessible).await;
            // A page that does not exist says so.
            driver.goto(format!("{base}/no/such/page")).await?;
            let missing = eventually("the not-found page", Duration::from_secs(20), || async {
                driver.find(By::Css(".not-found h1")).await.ok()
            })
            .await;
            assert_eq!(missing.text().await?, "Page not found");

            // The header names the user; API tokens are issued with their secret shown once.
            let who = driver.find(By::Css("header .who")).await?;
            assert_eq!(who.attr("data-user").await?.as_deref(), Some("admin"));
            driver.goto(format!("{base}/tokens")).await?;
            let name = eventually("the token form", Duration::from_secs(20), || async {
                driver
                    .find(By::Css("form.issue-token input[name=name]"))
                    .await
                    .ok()
            })
            .await;
            name.send_keys("console-ci").await?;
            driver
                .find(By::Css("form.issue-token button[type=submit]"))
                .await?
                .click()
                .await?;
            let secret = eventually("the issued secret", Duration::from_secs(10), || async {
                driver.find(By::Css(".issued code.secret")).await.ok()
            })
            .await;
            assert!(secret.text().await?.starts_with("ey"), "a JWT");
            eventually("the token in the list", Duration::from_secs(10), || async {
                driver.find(By::Css("tr[data-token=console-ci]")).await.ok()
            })
            .await;
            audit(&driver, "API tokens", &mut inaccessible).await;
            // The audit log shows the writes just made.
            driver.goto(format!("{base}/audit")).await?;
            eventually("audit entries", Duration::from_secs(20), || async {
                let issued = driver
                    .find(By::Css("table.audit tr[data-kind=ApiToken]"))
                    .await
                    .ok()?;
                let applied = driver
                    .find(By::Css("table.audit tr[data-kind=Timeout]"))
                    .await
                    .ok()?;
                Some((issued, applied))
            })
            .await;
            audit(&driver, "audit log", &mut inaccessible).await;

            // The tenant switcher narrows the meshes page to one tenant's meshes.
            driver.goto(&base).await?;
            eventually("both teams' meshes", Duration::from_secs(20), || async {
                driver.find(By::Css("a[data-mesh=payments]")).await.ok()?;
                driver.find(By::Css("a[data-mesh=shop]")).await.ok()
            })
            .await;
            let switcher = driver.find(By::Css("select.tenant-switcher")).await?;
            eventually(
                "the payments tenant to choose",
                Duration::from_secs(10),
                || async {
                    switcher
                        .find(By::Css("option[value=payments-team]"))
                        .await
                        .ok()
                },
            )
            .await;
            thirtyfour::components::SelectElement::new(&switcher)
                .await?
                .select_by_value("payments-team")
                .await?;
            eventually(
                "only the payments mesh",
                Duration::from_secs(10),
                || async {
                    driver.find(By::Css("a[data-mesh=payments]")).await.ok()?;
                    driver
                        .find(By::Css("a[data-mesh=shop]"))
                        .await
                        .is_err()
                        .then_some(())
                },
            )
            .await;

            // The GraphQL explorer answers with what the admin may see: both teams' meshes.
            let answer = graphql(&driver, &base, "{ meshes { name } }").await?;
            audit(&driver, "GraphQL explorer", &mut inaccessible).await;
            assert!(
                answer.contains("payments") && answer.contains("shop"),
                "{answer}"
            );

            // Logging out ends the session (and forgets the chosen tenant).
            driver.find(By::Css("button.logout")).await?.click().await?;
            eventually(
                "the login form after logout",
                Duration::from_secs(10),
                || async { driver.find(By::Css("input[name=username]")).await.ok() },
            )
            .await;

            // A viewer of the shop team sees its mesh, not the payments team's, cannot apply,
            // and reads the members without the controls to change them.
            let user = driver.find(By::Css("input[name=username]")).await?;
            user.clear().await?;
            user.send_keys("shop-viewer").await?;
            let password = driver.find(By::Css("input[name=password]")).await?;
            password.clear().await?;
            password.send_keys(PASSWORD).await?;
            driver
                .find(By::Css("button[type=submit]"))
                .await?
                .click()
                .await?;
            eventually("the viewer's meshes", Duration::from_secs(20), || async {
                driver.find(By::Css("a[data-mesh=shop]")).await.ok()
            })
            .await;
            assert!(driver.find(By::Css("a[data-mesh=payments]")).await.is_err());
            eventually(
                "the viewer's name in the header",
                Duration::from_secs(10),
                || async {
                    let who = driver.find(By::Css("header .who")).await.ok()?;
                    (who.attr("data-user").await.ok()?.as_deref() == Some("shop-viewer"))
                        .then_some(())
                },
            )
            .await;
            assert!(
                driver.find(By::Css("a.nav-apply")).await.is_err(),
                "viewers cannot apply"
            );
            assert!(
                driver.find(By::Css("a.nav-audit")).await.is_err(),
                "nor read the audit log"
            );
            driver
                .goto(format!("{base}/tenants/shop-team/members"))
                .await?;
            eventually("the members", Duration::from_secs(20), || async {
                driver
                    .find(By::Css("tr[data-member=shop-owner]"))
                    .await
                    .ok()
            })
            .await;
            assert!(driver.find(By::Css("form.add-member")).await.is_err());
            assert!(driver.find(By::Css("button.remove")).await.is_err());
            // Over GraphQL too, the viewer sees the shop mesh and not the payments team's.
            let answer = graphql(&driver, &base, "{ meshes { name } }").await?;
            assert!(answer.contains("\"shop\""), "{answer}");
            assert!(!answer.contains("payments"), "{answer}");
            WebDriverResult::Ok(())
        }
        .await;
        let _ = driver.quit().await;
        result.expect("browser session");
        assert!(
            inaccessible.is_empty(),
            "accessibility (axe-core, WCAG 2.1 A and AA):\n{}",
            inaccessible.join("\n")
        );
    });
    // The applied Timeout reached the proxies.
    shop.web().wait_for_config("the applied timeout", |config| {
        config["config"]["provenance"]["outbound[catalog].timeout.request"] == "Timeout/defaults"
    });
    drop(shop);
}

/// Where a page's screenshot goes (`cargo xtask screenshots` copies them into docs/).
fn shot(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir.join(format!("{name}.png"))
}

/// Types `value` into the form field bound to `field` and leaves it (the form reads a field
/// when it changes).
async fn set_field(driver: &WebDriver, field: &str, value: &str) -> WebDriverResult<()> {
    let input = driver
        .find(By::Css(format!(".policy-form [data-field='{field}']")))
        .await?;
    input.clear().await?;
    input.send_keys(value.to_string() + Key::Tab).await?;
    Ok(())
}

/// Logs `user` in through the form and waits for the meshes page.
async fn log_in(driver: &WebDriver, base: &str, user: &str) -> WebDriverResult<()> {
    log_in_seeing(driver, base, user, "shop").await
}

/// Logs `user` in and waits for the meshes page to list `mesh`.
async fn log_in_seeing(
    driver: &WebDriver,
    base: &str,
    user: &str,
    mesh: &str,
) -> WebDriverResult<()> {
    driver.goto(format!("{base}/login")).await?;
    let name = eventually("the login form", Duration::from_secs(20), || async {
        driver.find(By::Css("input[name=username]")).await.ok()
    })
    .await;
    // The form may come prefilled: replace what is there.
    name.clear().await?;
    name.send_keys(user).await?;
    let password = driver.find(By::Css("input[name=password]")).await?;
    password.clear().await?;
    password.send_keys(PASSWORD).await?;
    driver
        .find(By::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    let link = format!("a[data-mesh={mesh}]");
    eventually("the meshes page", Duration::from_secs(20), || async {
        driver.find(By::Css(&link)).await.ok()
    })
    .await;
    Ok(())
}

/// Clicks an action on the rollout page and confirms it.
async fn rollout_action(driver: &WebDriver, action: &str) -> WebDriverResult<()> {
    let button = eventually(
        &format!("the {action} button enabled"),
        Duration::from_secs(20),
        || async {
            let button = driver
                .find(By::Css(format!("button.action-{action}")))
                .await
                .ok()?;
            button.is_enabled().await.ok()?.then_some(button)
        },
    )
    .await;
    button.click().await?;
    driver
        .find(By::Css(".confirm button.confirm-yes"))
        .await?
        .click()
        .await?;
    Ok(())
}

#[test]
fn a_rollout_page_follows_the_canary_and_acts_on_it() {
    let work = tempfile::tempdir().unwrap();
    let shop = Shop::start(ShopOptions {
        work_dir: work.path().to_path_buf(),
        ports: Ports::Free,
        admin_password: PASSWORD.into(),
        console_dir: Some(console_dir()),
        load_rps: 30.0,
        no_faults: true,
        ..ShopOptions::default()
    });
    let api = shop.global.api();
    api.apply(
        "/api/v1/meshes/shop/rollouts/catalog",
        "apiVersion: weft.dev/v1alpha1\nkind: Rollout\nmetadata: {name: catalog, mesh: shop}\nspec:\n  service: catalog\n  stable: {tags: {version: v1}}\n  canary: {tags: {version: v2}}\n  steps: [5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]\n  interval: 2s\n  gates: {successRate: 90, p99: 1s, minRequests: 3}\n",
    );
    let (_chromedriver, driver_port) = start_chromedriver(work.path());
    let base = shop.global.url();
    let screenshot = shot("rollout");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let driver = browser(driver_port, &work.path().join("chromium-profile"))
            .await
            .expect("chromium starts");
        let mut inaccessible = Vec::new();
        let result = async {
            log_in(&driver, &base, "admin").await?;
            // From the mesh page: the rollouts link, the list, the rollout.
            driver.goto(format!("{base}/meshes/shop")).await?;
            eventually("the rollouts link", Duration::from_secs(20), || async {
                driver.find(By::Css("a.rollouts-link")).await.ok()
            })
            .await
            .click()
            .await?;
            eventually(
                "the rollout in the list",
                Duration::from_secs(20),
                || async {
                    driver
                        .find(By::Css("tr[data-rollout=catalog] a"))
                        .await
                        .ok()
                },
            )
            .await
            .click()
            .await?;
            // The step bar moves and decisions appear without a reload.
            let current_step = || async {
                let step = driver.find(By::Css(".step-bar .step.current")).await.ok()?;
                step.attr("data-step").await.ok()??.parse::<u32>().ok()
            };
            let first = eventually("a current step", Duration::from_secs(30), current_step).await;
            let entries = || async {
                driver
                    .find_all(By::Css("table.history tbody tr"))
                    .await
                    .ok()
                    .map(|rows| rows.len())
            };
            let decisions = eventually("decisions", Duration::from_secs(20), entries).await;
            eventually("the next step, live", Duration::from_secs(30), || async {
                (current_step().await? > first).then_some(())
            })
            .await;
            eventually("more decisions, live", Duration::from_secs(30), || async {
                (entries().await? > decisions).then_some(())
            })
            .await;
            eventually(
                "a passed check in the history",
                Duration::from_secs(30),
                || async { driver.find(By::Css("tr[data-verdict=Passed]")).await.ok() },
            )
            .await;
            eventually("a live success rate", Duration::from_secs(30), || async {
                let latest = driver.find(By::Css(".chart-success .latest")).await.ok()?;
                (latest.text().await.ok()? == "100.0").then_some(())
            })
            .await;
            driver.screenshot(&screenshot).await?;
            audit(&driver, "rollout", &mut inaccessible).await;

            // Pause, confirmed: the page and the API agree.
            rollout_action(&driver, "pause").await?;
            eventually("the paused phase", Duration::from_secs(20), || async {
                driver
                    .find(By::Css(".rollout-summary [data-phase=Paused]"))
                    .await
                    .ok()
            })
            .await;
            let (_, rollout) = api.get("/api/v1/meshes/shop/rollouts/catalog").unwrap();
            assert_eq!(rollout["status"]["phase"], "Paused");
            assert_eq!(rollout["status"]["pausedBy"], "admin");
            // Promote: all traffic to the canary.
            rollout_action(&driver, "promote").await?;
            eventually("the promoted phase", Duration::from_secs(20), || async {
                driver
                    .find(By::Css(".rollout-summary [data-phase=Promoted]"))
                    .await
                    .ok()
            })
            .await;
            let weights = driver.find(By::Css(".rollout-summary .weights")).await?;
            assert_eq!(weights.attr("data-weight").await?.as_deref(), Some("100"));
            let (_, rollout) = api.get("/api/v1/meshes/shop/rollouts/catalog").unwrap();
            assert_eq!(rollout["status"]["phase"], "Promoted");
            assert_eq!(rollout["status"]["canaryWeight"], 100);
            // Nothing more to do: every action is disabled.
            for action in ["pause", "resume", "promote", "abort"] {
                let button = driver
                    .find(By::Css(format!("button.action-{action}")))
                    .await?;
                assert!(!button.is_enabled().await?, "{action} after promotion");
            }
            WebDriverResult::Ok(())
        }
        .await;
        let _ = driver.quit().await;
        result.expect("browser session");
        assert!(
            inaccessible.is_empty(),
            "accessibility (axe-core, WCAG 2.1 A and AA):\n{}",
            inaccessible.join("\n")
        );
    });
    drop(shop);
}

/// axe-core's WCAG 2.0/2.1 A and AA rules run on the page as it is now: one line per rule
/// broken, with up to three of the elements that break it.
async fn accessibility_violations(driver: &WebDriver) -> Vec<String> {
    let path = std::env::var("WEFT_AXE_JS").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/tools/axe.min.js").to_string()
    });
    let script = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!("axe-core at {path}: {error} (cargo xtask test fetches it from PyPI)")
    });
    driver
        .execute(&script, Vec::new())
        .await
        .expect("axe-core loads");
    let found = driver
        .execute(
            "return axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
               .then(r => r.violations.map(v => v.id + ' (' + v.impact + '): '
                 + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')));",
            Vec::new(),
        )
        .await
        .expect("axe-core runs");
    serde_json::from_value(found.json().clone()).expect("a list of violations")
}

/// Adds the page's accessibility problems to `found` (asserted empty once every page is seen).
async fn audit(driver: &WebDriver, page: &str, found: &mut Vec<String>) {
    for violation in accessibility_violations(driver).await {
        found.push(format!("{page}: {violation}"));
    }
}

/// Reads a Performance API entry's start time, once it exists.
async fn mark(driver: &WebDriver, name: &str) -> Option<f64> {
    let script = format!(
        "const e = performance.getEntriesByName('{name}'); return e.length ? e[0].startTime : null;"
    );
    driver
        .execute(&script, Vec::new())
        .await
        .ok()?
        .json()
        .as_f64()
}

#[test]
fn a_mesh_of_500_services_and_2000_edges_is_drawn_and_stays_usable() {
    const SERVICES: usize = 500;
    const EDGES: usize = 2_000;
    let work = tempfile::tempdir().unwrap();
    let global = weft_e2e::topology::Global::start(
        work.path(),
        weft_e2e::topology::GlobalOptions {
            console_dir: Some(console_dir()),
            ..weft_e2e::topology::GlobalOptions::local(PASSWORD)
        },
    );
    let api = global.api();
    api.apply_all(
        "apiVersion: weft.dev/v1alpha1\nkind: Tenant\nmetadata: {name: big-team}\nspec: {displayName: Big team}\n---\napiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: big}\nspec: {tenant: big-team}\n",
    );
    let token = api.zone_token("sim");
    let ca = std::fs::read_to_string(&global.upstream().ca_file).expect("global's CA");
    let base = global.url();
    let (_chromedriver, driver_port) = start_chromedriver(work.path());

    // The synthetic mesh comes from a simulated zone speaking the real federation protocol:
    // its dataplanes, then a second of traffic on every edge, every second.
    let mesh = weft_sim::mesh::SyntheticMesh::generate("big", SERVICES, EDGES, 42);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let zone = runtime.block_on(async {
        let mut zone = weft_sim::zone::SimZone::connect(&global.grpc_url(), &ca, &token, "sim")
            .await
            .expect("the simulated zone connects");
        zone.register("big", &mesh.dataplanes())
            .await
            .expect("dataplanes registered");
        zone
    });
    let traffic = mesh.clone();
    let reporting = runtime.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if zone.report("big", traffic.one_second()).await.is_err() {
                return;
            }
        }
    });
    wait_until(
        "every edge in the API's graph",
        Duration::from_secs(60),
        || {
            let (status, graph) = api.get("/api/v1/meshes/big/graph").ok()?;
            (status == 200 && graph["edges"].as_array()?.len() == EDGES).then_some(())
        },
    );

    runtime.block_on(async {
        let driver = browser(driver_port, &work.path().join("chromium-profile"))
            .await
            .expect("chromium starts");
        let result = async {
            log_in_seeing(&driver, &base, "admin", "big").await?;
            driver.goto(format!("{base}/meshes/big")).await?;
            let painted = eventually("the graph's paint mark", Duration::from_secs(60), || {
                mark(&driver, "weft-graph-painted")
            })
            .await;
            let data = mark(&driver, "weft-graph-data")
                .await
                .expect("the data mark precedes the paint mark");
            let nodes = driver.find_all(By::Css("svg g.node")).await?.len();
            let edges = driver.find_all(By::Css("svg g.edge")).await?.len();
            assert_eq!(nodes, SERVICES, "one node per service version");
            assert_eq!(edges, EDGES);
            // Recorded for docs/benchmarks.md by `cargo xtask screenshots`, not asserted.
            std::fs::write(
                shot("timings-500").with_extension("json"),
                serde_json::json!({
                    "services": nodes,
                    "edges": edges,
                    "dataToPixelsMs": painted - data,
                    "firstPaintMs": painted,
                })
                .to_string(),
            )
            .expect("timings written");

            // At this size only problem calls carry labels, with a note saying so.
            let labelled = driver
                .find_all(By::Css("svg g.edge text.edge-label"))
                .await?
                .len();
            assert!(labelled < EDGES, "{labelled} labels for {EDGES} calls");
            assert!(
                driver
                    .find(By::Css(".graph-note"))
                    .await?
                    .text()
                    .await?
                    .contains("2000 calls")
            );

            // Zoom out: the drawing shrinks.
            let width = |driver: &WebDriver| {
                let driver = driver.clone();
                async move {
                    driver
                        .find(By::Css(".graph svg"))
                        .await
                        .ok()?
                        .attr("width")
                        .await
                        .ok()??
                        .parse::<f64>()
                        .ok()
                }
            };
            let before = width(&driver).await.expect("the graph's width");
            driver
                .find(By::Css("button[name=zoom-out]"))
                .await?
                .click()
                .await?;
            eventually("a smaller drawing", Duration::from_secs(20), || async {
                (width(&driver).await? < before).then_some(())
            })
            .await;

            // Still usable at this size: find highlights one service (its calls get their
            // labels back), a click opens its panel.
            driver
                .find(By::Css("input[name=find]"))
                .await?
                .send_keys("svc-123")
                .await?;
            eventually("svc-123 found", Duration::from_secs(20), || async {
                driver
                    .find(By::Css("g.node.match[data-node='svc-123/v2']"))
                    .await
                    .ok()?;
                driver
                    .find(By::Css("g.edge[data-edge*='svc-123/v2'] text.edge-label"))
                    .await
                    .ok()
            })
            .await;
            driver
                .find(By::Css("g.node[data-node='svc-123/v2'] rect"))
                .await?
                .click()
                .await?;
            let title = eventually("the node's panel", Duration::from_secs(20), || async {
                driver.find(By::Css(".side-panel .panel-title")).await.ok()
            })
            .await;
            assert!(title.text().await?.contains("svc-123"));
            driver.screenshot(&shot("graph-500")).await?;
            Ok::<(), WebDriverError>(())
        }
        .await;
        driver.quit().await.ok();
        result.expect("the large mesh in the browser");
    });
    reporting.abort();
}

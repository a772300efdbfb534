//! Proxies: a mesh's dataplanes, and one dataplane inspected — what it serves and calls, which
//! policies apply to it in which order and why, and every setting it receives with the policy
//! that produced it.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use serde_json::Value;
use weft_api::inventory::ResourceList;
use weft_model::dataplane::ZONE_LABEL;

use crate::api;
use crate::components::error::ErrorNotice;
use crate::show::text;

/// The table of a mesh's dataplanes, each linking to its inspect page.
#[component]
pub fn DataplaneTable(mesh: String) -> impl IntoView {
    let path = format!("/api/v1/meshes/{}/dataplanes", api::segment(&mesh));
    let dataplanes = LocalResource::new(move || {
        let path = path.clone();
        async move { api::get::<ResourceList>(&path).await }
    });
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading dataplanes…"</p> }>
            {move || dataplanes.get().map(|result| match result {
                Err(error) => view! { <ErrorNotice error /> }.into_any(),
                Ok(list) if list.items.is_empty() => view! { <p class="notice">"No dataplane has registered in this mesh yet."</p> }.into_any(),
                Ok(list) => view! {
                    <table class="dataplanes">
                        <thead><tr><th>"Dataplane"</th><th>"Zone"</th><th>"Address"</th><th>"Serves"</th><th>"Calls"</th><th>"Session"</th><th>"Config"</th><th>"Certificate expires"</th></tr></thead>
                        <tbody>
                            {list.items.into_iter().map(|dataplane| {
                                let name = dataplane.metadata.name.clone();
                                let href = format!("/meshes/{}/dataplanes/{}", api::segment(&mesh), api::segment(&name));
                                let networking = &dataplane.spec["networking"];
                                let serves: Vec<String> = networking["inbound"].as_array().map(Vec::as_slice).unwrap_or_default().iter().map(|inbound| {
                                    let tags = &inbound["tags"];
                                    let version = text(&tags["version"]);
                                    format!("{}{} :{}", text(&tags["service"]), if version.is_empty() { String::new() } else { format!(" {version}") }, text(&inbound["port"]))
                                }).collect();
                                let calls: Vec<String> = networking["outbound"].as_array().map(Vec::as_slice).unwrap_or_default().iter().map(|outbound| format!("{} :{}", text(&outbound["service"]), text(&outbound["port"]))).collect();
                                let label = name.clone();
                                let zone = dataplane.metadata.labels.get(ZONE_LABEL).cloned().unwrap_or_default();
                                let address = text(&networking["address"]);
                                let session = Session::of(dataplane.status.as_ref());
                                view! {
                                    <tr data-dataplane=name>
                                        <td><A href=href>{label}</A></td>
                                        <td>{zone}</td>
                                        <td>{address}</td>
                                        <td>{serves.join(", ")}</td>
                                        <td>{calls.join(", ")}</td>
                                        <td class=session.connection_class() data-connected=session.connected_attr()>{session.connection_text()}</td>
                                        <td class=session.config_class() title=session.rejection.clone().unwrap_or_default()>{session.config_text()}</td>
                                        <td class="certificate">{session.certificate_text()}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            })}
        </Suspense>
    }
}

/// A proxy's session as its zone reports it (`status` of the Dataplane); all `None` when no
/// connected zone says anything of it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session {
    pub connected: Option<bool>,
    pub config_version: u64,
    pub acked_version: u64,
    pub rejection: Option<String>,
    pub certificate_expires: Option<String>,
}

impl Session {
    pub fn of(status: Option<&Value>) -> Session {
        let Some(status) = status else {
            return Session::default();
        };
        Session {
            connected: status["connected"].as_bool(),
            config_version: status["configVersion"].as_u64().unwrap_or(0),
            acked_version: status["ackedVersion"].as_u64().unwrap_or(0),
            rejection: status["rejection"].as_str().map(str::to_string),
            certificate_expires: status["certificateExpires"].as_str().map(str::to_string),
        }
    }

    fn connected_attr(&self) -> &'static str {
        match self.connected {
            Some(true) => "true",
            Some(false) => "false",
            None => "unknown",
        }
    }

    fn connection_class(&self) -> &'static str {
        match self.connected {
            Some(true) => "session healthy",
            Some(false) => "session failing",
            None => "session muted",
        }
    }

    /// In words and a symbol, so it does not rest on colour.
    pub fn connection_text(&self) -> &'static str {
        match self.connected {
            Some(true) => "● connected",
            Some(false) => "○ disconnected",
            None => "? unknown (zone offline)",
        }
    }

    fn config_class(&self) -> &'static str {
        if self.rejection.is_some() {
            "config failing"
        } else if self.acked_version < self.config_version {
            "config degraded"
        } else {
            "config"
        }
    }

    pub fn config_text(&self) -> String {
        match (&self.rejection, self.connected) {
            (_, None) => "–".to_string(),
            (Some(reason), _) => format!(
                "✖ v{} rejected: {reason} (applied v{})",
                self.config_version, self.acked_version
            ),
            (None, _) if self.acked_version < self.config_version => format!(
                "⚠ v{} sent, v{} applied",
                self.config_version, self.acked_version
            ),
            (None, _) => format!("v{} applied", self.acked_version),
        }
    }

    pub fn certificate_text(&self) -> String {
        self.certificate_expires
            .as_deref()
            .map_or_else(|| "–".to_string(), crate::show::date_time)
    }
}

#[component]
pub fn DataplanePage() -> impl IntoView {
    let params = use_params_map();
    let mesh = move || params.read().get("mesh").unwrap_or_default();
    let name = move || params.read().get("name").unwrap_or_default();
    let report = LocalResource::new(move || {
        let path = format!(
            "/api/v1/meshes/{}/dataplanes/{}/policies",
            api::segment(&mesh()),
            api::segment(&name())
        );
        async move { api::get::<Value>(&path).await }
    });
    let manifest = LocalResource::new(move || {
        let path = format!(
            "/api/v1/meshes/{}/dataplanes/{}",
            api::segment(&mesh()),
            api::segment(&name())
        );
        async move { api::get::<weft_model::Manifest>(&path).await }
    });
    view! {
        <section class="dataplane">
            <h1>"Dataplane " <span class="dataplane-name">{name}</span></h1>
            <p class="muted">"in mesh " <A href=move || format!("/meshes/{}", api::segment(&mesh()))>{mesh}</A></p>
            <Suspense fallback=|| ()>
                {move || manifest.get().and_then(Result::ok).map(|manifest| {
                    let session = Session::of(manifest.status.as_ref());
                    view! {
                        <dl class="session">
                            <dt>"Session"</dt><dd class=session.connection_class() data-connected=session.connected_attr()>{session.connection_text()}</dd>
                            <dt>"Config"</dt><dd class=session.config_class()>{session.config_text()}</dd>
                            <dt>"Certificate expires"</dt><dd class="certificate">{session.certificate_text()}</dd>
                        </dl>
                    }
                })}
            </Suspense>
            <Suspense fallback=|| view! { <p class="muted">"Reading what this proxy receives…"</p> }>
                {move || report.get().map(|result| match result {
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    Ok(report) => render(report).into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// The report is read as plain JSON: decoding it into the model's typed configuration would
/// add the decoders of every setting type to the bundle for a read-only page.
fn render(report: Value) -> impl IntoView {
    let config = &report["config"];
    let raw = serde_json::to_string_pretty(config).unwrap_or_default();
    let list = |value: &Value| value.as_array().cloned().unwrap_or_default();
    let version = text(&config["version"]);
    let zone = text(&config["zone"]);
    let mtls = text(&config["mtls"]);
    let summary = format!(
        "serves {}{} · zone {} · mTLS {}",
        text(&config["service"]),
        if version.is_empty() {
            String::new()
        } else {
            format!(" {version}")
        },
        if zone.is_empty() {
            "–".to_string()
        } else {
            zone
        },
        if mtls.is_empty() {
            "off".to_string()
        } else {
            mtls
        },
    );
    let inbound = list(&config["inbound"])
        .into_iter()
        .map(|inbound| {
            let protocol = text(&inbound["protocol"]);
            view! {
                <tr>
                    <td>{text(&inbound["port"])}</td>
                    <td>{text(&inbound["servicePort"])}</td>
                    <td>{if protocol.is_empty() { "http".to_string() } else { protocol }}</td>
                </tr>
            }
        })
        .collect_view();
    let outbound = list(&config["outbound"])
        .into_iter()
        .map(|outbound| {
            let service = text(&outbound["service"]);
            let endpoints = config["endpoints"][&service].as_array().map_or(0, Vec::len);
            let rules = outbound["rules"].as_array().map_or(0, Vec::len);
            view! {
                <tr data-outbound=service.clone()><td>{text(&outbound["port"])}</td><td>{service.clone()}</td><td>{endpoints}</td><td>{rules}</td></tr>
            }
        })
        .collect_view();
    let policies = list(&report["policies"])
        .into_iter()
        .enumerate()
        .map(|(position, policy)| {
            let (kind, name) = (text(&policy["kind"]), text(&policy["name"]));
            let effect: Vec<String> = list(&policy["effect"]).iter().map(text).collect();
            let effect = if effect.is_empty() {
                "nothing (overridden, or about no peer of this proxy)".to_string()
            } else {
                effect.join(", ")
            };
            view! {
                <tr data-policy=format!("{kind}/{name}")>
                    <td>{position + 1}</td>
                    <td>{kind.clone()}</td>
                    <td>{name.clone()}</td>
                    <td>{text(&policy["reason"])}</td>
                    <td class="muted">{effect}</td>
                </tr>
            }
        })
        .collect_view();
    let provenance = config["provenance"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|(setting, origin)| {
            view! { <tr data-setting=setting.clone()><td><code>{setting.clone()}</code></td><td>{text(&origin)}</td></tr> }
        })
        .collect_view();
    view! {
        <p class="dataplane-summary">{summary}</p>
        <div class="columns">
            <div>
                <h2>"Inbound"</h2>
                <table class="inbound"><thead><tr><th>"Port"</th><th>"Application port"</th><th>"Protocol"</th></tr></thead><tbody>{inbound}</tbody></table>
            </div>
            <div>
                <h2>"Outbound"</h2>
                <table class="outbound"><thead><tr><th>"Port"</th><th>"Service"</th><th>"Endpoints"</th><th>"Route rules"</th></tr></thead><tbody>{outbound}</tbody></table>
            </div>
        </div>
        <h2>"Policies that apply"</h2>
        <p class="muted">"By kind, most precedent first: a more specific target wins, then the name."</p>
        <table class="policies"><thead><tr><th>"#"</th><th>"Kind"</th><th>"Name"</th><th>"Why it applies"</th><th>"What it set"</th></tr></thead><tbody>{policies}</tbody></table>
        <h2>"Effective settings"</h2>
        <table class="provenance"><thead><tr><th>"Setting"</th><th>"From"</th></tr></thead><tbody>{provenance}</tbody></table>
        <details class="raw-config">
            <summary>"The whole configuration this proxy receives"</summary>
            <pre tabindex="0" aria-label="the configuration as JSON">{raw}</pre>
        </details>
    }
}

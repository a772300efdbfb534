//! The audit log: every write, newest first, filtered by tenant, user and kind, a page at a
//! time. Platform admins see everything, tenant owners their tenants'.

use leptos::prelude::*;
use weft_api::audit::AuditPage as Page;

use crate::api;
use crate::components::error::ErrorNotice;
use crate::me::use_session;

#[component]
pub fn AuditPage() -> impl IntoView {
    let session = use_session();
    let user = RwSignal::new(String::new());
    let kind = RwSignal::new(String::new());
    let before = RwSignal::new(None::<String>);
    let entries = LocalResource::new(move || {
        let mut query = vec![("limit".to_string(), "50".to_string())];
        for (name, value) in [
            ("tenant", session.tenant.get()),
            ("user", user.get()),
            ("kind", kind.get()),
        ] {
            if !value.trim().is_empty() {
                query.push((name.to_string(), value.trim().to_string()));
            }
        }
        if let Some(cursor) = before.get() {
            query.push(("continue".to_string(), cursor));
        }
        let query: Vec<String> = query
            .into_iter()
            .map(|(name, value)| format!("{name}={}", api::segment(&value)))
            .collect();
        let path = format!("/api/v1/audit?{}", query.join("&"));
        async move { api::get::<Page>(&path).await }
    });
    view! {
        <section class="audit">
            <h1>"Audit log"</h1>
            <div class="toolbar">
                <input name="user" aria-label="Filter by user" placeholder="user" on:change=move |event| { before.set(None); user.set(event_target_value(&event)) } />
                <input name="kind" aria-label="Filter by kind" placeholder="kind, e.g. TrafficRoute" on:change=move |event| { before.set(None); kind.set(event_target_value(&event)) } />
                <button class="secondary" on:click=move |_| before.set(None)>"Newest"</button>
            </div>
            <Suspense fallback=|| view! { <p class="muted">"Loading the audit log…"</p> }>
                {move || entries.get().map(|result| match result {
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    Ok(page) if page.items.is_empty() => view! { <p class="notice">"No entries."</p> }.into_any(),
                    Ok(page) => {
                        let next = page.continue_token.clone();
                        view! {
                            <table class="audit">
                                <thead><tr><th>"When"</th><th>"Who"</th><th>"From"</th><th>"Action"</th><th>"What"</th><th>"Where"</th><th>"Version"</th></tr></thead>
                                <tbody>
                                    {page.items.into_iter().map(|entry| {
                                        let place = match (&entry.tenant, &entry.mesh) {
                                            (_, Some(mesh)) => format!("mesh {mesh}"),
                                            (Some(tenant), None) => format!("tenant {tenant}"),
                                            _ => String::new(),
                                        };
                                        let versions = format!(
                                            "{} → {}",
                                            entry.before_version.clone().unwrap_or_else(|| "–".into()),
                                            entry.after_version.clone().unwrap_or_else(|| "–".into())
                                        );
                                        view! {
                                            <tr data-kind=entry.kind.clone()>
                                                <td class="muted">{entry.at.clone()}</td>
                                                <td>{entry.user.clone()}</td>
                                                <td class="muted">{entry.address.clone()}</td>
                                                <td class="action">{entry.action.clone()}</td>
                                                <td>{format!("{} {}", entry.kind, entry.name)}</td>
                                                <td>{place}</td>
                                                <td class="muted">{versions}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            {next.map(|cursor| view! {
                                <button class="secondary older" on:click=move |_| before.set(Some(cursor.clone()))>"Older"</button>
                            })}
                        }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}

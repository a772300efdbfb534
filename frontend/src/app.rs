//! Routes of the console.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::shell::Shell;
use crate::pages::apply::ApplyPage;
use crate::pages::audit::AuditPage;
use crate::pages::dataplanes::DataplanePage;
use crate::pages::graphql::GraphQlPage;
use crate::pages::login::LoginPage;
use crate::pages::members::MembersPage;
use crate::pages::mesh::MeshPage;
use crate::pages::meshes::MeshesPage;
use crate::pages::policies::{PoliciesPage, PolicyPage};
use crate::pages::rollouts::{RolloutPage, RolloutsPage};
use crate::pages::tokens::TokensPage;
use crate::pages::zones::{NotFound, ZonesPage};

#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <Routes fallback=|| view! { <Shell><NotFound /></Shell> }>
                <Route path=path!("/login") view=LoginPage />
                <Route path=path!("/") view=|| view! { <Shell><MeshesPage /></Shell> } />
                <Route path=path!("/meshes/:mesh") view=|| view! { <Shell><MeshPage /></Shell> } />
                <Route path=path!("/meshes/:mesh/dataplanes/:name") view=|| view! { <Shell><DataplanePage /></Shell> } />
                <Route path=path!("/meshes/:mesh/policies") view=|| view! { <Shell><PoliciesPage /></Shell> } />
                <Route path=path!("/meshes/:mesh/policies/:plural/:name") view=|| view! { <Shell><PolicyPage /></Shell> } />
                <Route path=path!("/meshes/:mesh/new/:plural") view=|| view! { <Shell><PolicyPage /></Shell> } />
                <Route path=path!("/zones") view=|| view! { <Shell><ZonesPage /></Shell> } />
                <Route path=path!("/meshes/:mesh/rollouts") view=|| view! { <Shell><RolloutsPage /></Shell> } />
                <Route path=path!("/meshes/:mesh/rollouts/:name") view=|| view! { <Shell><RolloutPage /></Shell> } />
                <Route path=path!("/apply") view=|| view! { <Shell><ApplyPage /></Shell> } />
                <Route path=path!("/tenants/:tenant/members") view=|| view! { <Shell><MembersPage /></Shell> } />
                <Route path=path!("/tokens") view=|| view! { <Shell><TokensPage /></Shell> } />
                <Route path=path!("/audit") view=|| view! { <Shell><AuditPage /></Shell> } />
                // Served by weft-global at GET /api/graphql too, where GraphiQL would be.
                <Route path=path!("/api/graphql") view=|| view! { <Shell><GraphQlPage /></Shell> } />
            </Routes>
        </Router>
    }
}

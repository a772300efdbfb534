//! Who is logged in, what they may do, and which tenant the console shows: read once per
//! page from `GET /api/v1/whoami` and shared through the component tree.

use leptos::prelude::*;
use weft_api::auth::WhoAmI;

use crate::session;

/// The signed-in user as the pages need them.
#[derive(Clone, Debug, PartialEq)]
pub struct Me {
    pub who: WhoAmI,
}

impl Me {
    fn rank(role: &str) -> u8 {
        match role {
            "owner" => 3,
            "editor" => 2,
            "viewer" => 1,
            _ => 0,
        }
    }

    /// The user's role in `tenant` (platform admins are owners everywhere).
    pub fn role_in(&self, tenant: &str) -> Option<&str> {
        if self.who.platform_admin {
            return Some("owner");
        }
        self.who
            .tenants
            .iter()
            .find(|membership| membership.tenant == tenant)
            .map(|membership| membership.role.as_str())
    }

    /// At least `role` in `tenant`.
    pub fn can(&self, tenant: &str, role: &str) -> bool {
        self.role_in(tenant)
            .is_some_and(|held| Me::rank(held) >= Me::rank(role))
    }

    /// At least `role` in some tenant (or a platform admin).
    pub fn anywhere(&self, role: &str) -> bool {
        self.who.platform_admin
            || self
                .who
                .tenants
                .iter()
                .any(|membership| Me::rank(&membership.role) >= Me::rank(role))
    }
}

/// What the shell shares: the user (once known) and the chosen tenant.
#[derive(Clone, Copy)]
pub struct Session {
    pub me: RwSignal<Option<Me>>,
    pub tenant: RwSignal<String>,
}

impl Session {
    pub fn new() -> Session {
        Session {
            me: RwSignal::new(None),
            tenant: RwSignal::new(session::tenant()),
        }
    }

    pub fn choose(&self, tenant: String) {
        session::set_tenant(&tenant);
        self.tenant.set(tenant);
    }
}

/// The session of the enclosing shell.
pub fn use_session() -> Session {
    use_context::<Session>().unwrap_or_else(Session::new)
}

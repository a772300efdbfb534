//! Who may do what. A request's token becomes a [`Caller`]: the user, whether they are a
//! platform admin, and their role in each tenant (narrowed by an API token's scope). Every
//! route declares an [`Access`] and goes through [`authorize`]; handlers that list things
//! filter with the same caller.
//!
//! A mesh belongs to one tenant (`spec.tenant`). A caller with no role in that tenant gets
//! 404 for the mesh and everything in it, exactly as if it did not exist; a caller whose
//! role is too low gets 403.

use std::collections::BTreeMap;

use weft_model::Kind;
use weft_model::tenant::{Role, TenantSpec};

use crate::auth::Verified;
use crate::error::{Error, Result};
use crate::store::{Actor, Store, tenant_of};

/// What a route requires of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// Any signed-in user; the handler shows only what the caller may see, or checks more.
    User,
    /// Platform admins.
    PlatformAdmin,
    /// At least this role in the tenant named by the `tenant` path parameter.
    Tenant(Role),
    /// At least this role in the tenant that owns the mesh named by the `mesh` path parameter.
    Mesh(Role),
    /// `PUT` of a tenant: its owners when it exists, platform admins to create it.
    TenantOrCreate,
    /// `PUT` of a mesh: its tenant's owners when it exists; to create it, owners of the tenant
    /// the new mesh names (checked by the handler).
    MeshOrCreate,
}

/// The signed-in caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    /// Id of the token the request carried.
    pub token_id: String,
    /// An API token rather than a login session.
    pub api_token: bool,
    /// Unix seconds.
    pub expires_at: u64,
    pub platform_admin: bool,
    /// Role per tenant, after the token's narrowing. Platform admins are owners everywhere
    /// without being listed here.
    pub roles: BTreeMap<String, Role>,
    /// Where the request came from.
    pub address: String,
}

/// An API token's narrowing: one tenant, a highest role, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub tenant: Option<String>,
    pub role: Option<Role>,
}

impl Caller {
    /// The caller as the audit log names it.
    pub fn actor(&self) -> Actor {
        Actor {
            user: self.user.clone(),
            token: self.token_id.clone(),
            address: self.address.clone(),
        }
    }

    /// The caller's role in `tenant`.
    pub fn role_in(&self, tenant: &str) -> Option<Role> {
        if self.platform_admin {
            return Some(Role::Owner);
        }
        self.roles.get(tenant).copied()
    }

    /// The tenants whose contents the caller may see (`None`: all of them).
    pub fn visible_tenants(&self) -> Option<Vec<String>> {
        (!self.platform_admin).then(|| self.roles.keys().cloned().collect())
    }

    /// Tenants the caller owns (`None`: all of them).
    pub fn owned_tenants(&self) -> Option<Vec<String>> {
        (!self.platform_admin).then(|| {
            self.roles
                .iter()
                .filter(|(_, role)| role.allows(Role::Owner))
                .map(|(tenant, _)| tenant.clone())
                .collect()
        })
    }

    pub fn require_admin(&self) -> Result<()> {
        if self.platform_admin {
            Ok(())
        } else {
            Err(Error::Forbidden("only platform admins may do this"))
        }
    }

    /// At least `needed` in `tenant`; 404 as `what` when the caller has no role there.
    pub fn require_role(&self, tenant: &str, needed: Role, what: &str) -> Result<Role> {
        let role = self
            .role_in(tenant)
            .ok_or_else(|| Error::NotFound(what.to_string()))?;
        if role.allows(needed) {
            Ok(role)
        } else {
            Err(Error::Forbidden(match needed {
                Role::Owner => "this needs the owner role in the tenant",
                Role::Editor => "this needs the editor role in the tenant",
                Role::Viewer => "this needs a role in the tenant",
            }))
        }
    }
}

/// Every tenant's members: tenant → (user → role).
pub async fn memberships(store: &Store) -> Result<BTreeMap<String, BTreeMap<String, Role>>> {
    let mut tenants = BTreeMap::new();
    for row in store.list(Kind::Tenant, None).await? {
        let spec: TenantSpec = serde_json::from_value(row.spec)
            .map_err(|error| Error::Internal(format!("stored tenant {}: {error}", row.name)))?;
        let members = spec
            .members
            .into_iter()
            .filter_map(|member| Some((member.user, member.role?)))
            .collect();
        tenants.insert(row.name, members);
    }
    Ok(tenants)
}

/// The roles of a user whose token has `scope`.
fn narrowed(
    user: &str,
    platform_admin: bool,
    scope: &Scope,
    tenants: &BTreeMap<String, BTreeMap<String, Role>>,
) -> (bool, BTreeMap<String, Role>) {
    let narrowed = scope.tenant.is_some() || scope.role.is_some();
    let mut roles: BTreeMap<String, Role> = tenants
        .iter()
        .filter_map(|(tenant, members)| {
            let role = if platform_admin {
                Some(Role::Owner)
            } else {
                members.get(user).copied()
            };
            Some((tenant.clone(), role?))
        })
        .collect();
    if !narrowed {
        // Platform admins need no per-tenant roles.
        if platform_admin {
            roles.clear();
        }
        return (platform_admin, roles);
    }
    if let Some(tenant) = &scope.tenant {
        roles.retain(|name, _| name == tenant);
    }
    if let Some(highest) = scope.role {
        for role in roles.values_mut() {
            *role = role.lower(highest);
        }
    }
    (false, roles)
}

/// Turns a verified token into the caller: the user must still exist with the token's
/// generation, and the token must not be revoked.
pub async fn resolve(store: &Store, verified: Verified, address: String) -> Result<Caller> {
    let revoked = || Error::Unauthorized("the token was revoked");
    let user = store
        .user(&verified.user)
        .await?
        .ok_or_else(|| Error::Unauthorized("invalid or expired token"))?;
    if user.token_generation != verified.generation {
        return Err(revoked());
    }
    let scope = if verified.api {
        let token = store
            .api_token(&verified.token_id)
            .await?
            .filter(|token| token.username == user.username && token.revoked_at.is_none())
            .ok_or_else(revoked)?;
        Scope {
            tenant: token.tenant,
            role: token.role,
        }
    } else {
        if store.session_revoked(&verified.token_id).await? {
            return Err(revoked());
        }
        Scope::default()
    };
    let tenants = memberships(store).await?;
    let (platform_admin, roles) = narrowed(&user.username, user.platform_admin, &scope, &tenants);
    Ok(Caller {
        user: user.username,
        token_id: verified.token_id,
        api_token: verified.api,
        expires_at: verified.expires_at,
        platform_admin,
        roles,
        address,
    })
}

/// The tenant that owns `mesh`, or 404 when it does not exist.
pub async fn mesh_tenant(store: &Store, mesh: &str) -> Result<String> {
    store
        .get(Kind::Mesh, "", mesh)
        .await?
        .map(|row| tenant_of(&row.spec))
        .ok_or_else(|| Error::NotFound(format!("mesh {mesh:?}")))
}

/// At least `needed` in the tenant of `mesh`; 404 when the mesh does not exist or the caller
/// has no role in its tenant.
pub async fn require_mesh(store: &Store, caller: &Caller, mesh: &str, needed: Role) -> Result<()> {
    let tenant = mesh_tenant(store, mesh).await?;
    caller.require_role(&tenant, needed, &format!("mesh {mesh:?}"))?;
    Ok(())
}

/// Whether the caller may see `mesh` (owned by `tenant`).
pub fn sees_tenant(caller: &Caller, tenant: &str) -> bool {
    caller.role_in(tenant).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenants() -> BTreeMap<String, BTreeMap<String, Role>> {
        BTreeMap::from([
            (
                "a".to_string(),
                BTreeMap::from([("alice".to_string(), Role::Owner)]),
            ),
            (
                "b".to_string(),
                BTreeMap::from([("alice".to_string(), Role::Viewer)]),
            ),
        ])
    }

    #[test]
    fn a_token_never_raises_a_role() {
        let scope = Scope {
            tenant: None,
            role: Some(Role::Editor),
        };
        let (admin, roles) = narrowed("alice", false, &scope, &tenants());
        assert!(!admin);
        // Owner in a capped at editor; viewer in b stays viewer.
        assert_eq!(roles.get("a"), Some(&Role::Editor));
        assert_eq!(roles.get("b"), Some(&Role::Viewer));
    }

    #[test]
    fn a_tenant_scope_keeps_only_that_tenant() {
        let scope = Scope {
            tenant: Some("b".into()),
            role: None,
        };
        let (_, roles) = narrowed("alice", false, &scope, &tenants());
        assert_eq!(roles, BTreeMap::from([("b".to_string(), Role::Viewer)]));
        // A tenant the user is not in gives nothing.
        let (_, roles) = narrowed("bob", false, &scope, &tenants());
        assert!(roles.is_empty());
    }

    #[test]
    fn narrowed_admin_tokens_are_not_admin() {
        let scope = Scope {
            tenant: None,
            role: Some(Role::Viewer),
        };
        let (admin, roles) = narrowed("root", true, &scope, &tenants());
        assert!(!admin);
        assert_eq!(roles.len(), 2);
        assert!(roles.values().all(|role| *role == Role::Viewer));
        let (admin, roles) = narrowed("root", true, &Scope::default(), &tenants());
        assert!(admin);
        assert!(roles.is_empty());
    }
}

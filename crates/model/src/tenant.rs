//! Tenant: a team that owns meshes; its members and their roles.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, at, index};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Editor,
    Viewer,
}

impl Role {
    /// Owners may do what editors may, and editors what viewers may.
    pub fn rank(self) -> u8 {
        match self {
            Role::Viewer => 1,
            Role::Editor => 2,
            Role::Owner => 3,
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }

    /// The lower of two roles.
    pub fn lower(self, other: Role) -> Role {
        if self.rank() <= other.rank() {
            self
        } else {
            other
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Owner, Role::Editor, Role::Viewer]
            .into_iter()
            .find(|role| role.name() == text)
    }
}

impl TenantSpec {
    /// The role of `user` in this tenant.
    pub fn role_of(&self, user: &str) -> Option<Role> {
        self.members
            .iter()
            .find(|member| member.user == user)
            .and_then(|member| member.role)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default)]
    pub members: Vec<Member>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub role: Option<Role>,
}

/// User names: 1 to 64 characters of letters, digits, `.`, `_`, `-` and `@`.
pub fn user_problem(user: &str) -> Option<&'static str> {
    if user.is_empty() || user.len() > 64 {
        return Some("must be 1 to 64 characters");
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    (!user.chars().all(valid)).then_some("may contain only letters, digits, '.', '_', '-' and '@'")
}

impl TenantSpec {
    pub fn check(&self, errors: &mut Errors, path: &str) {
        if let Some(name) = &self.display_name {
            check::text(errors, &at(path, "displayName"), name, 128);
        }
        let members_path = at(path, "members");
        check::length(errors, &members_path, &self.members, 1000);
        let mut seen = BTreeSet::new();
        for (position, member) in self.members.iter().enumerate() {
            let member_path = index(&members_path, position);
            if let Some(problem) = user_problem(&member.user) {
                errors.add(at(&member_path, "user"), problem);
            } else if !seen.insert(member.user.as_str()) {
                errors.add(at(&member_path, "user"), "is listed twice");
            }
            if member.role.is_none() {
                errors.add(
                    at(&member_path, "role"),
                    "is required (owner, editor or viewer)",
                );
            }
        }
    }
}

impl crate::kind::KindSpec for TenantSpec {
    fn check_spec(&self, errors: &mut crate::error::Errors, path: &str) {
        TenantSpec::check(self, errors, path);
    }
}

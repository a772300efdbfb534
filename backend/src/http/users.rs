//! Users (platform admins manage them; a user reads and changes their own password) and the
//! members of tenants (owners manage them).

use axum::Json;
use axum::body::Body;
use std::collections::HashMap;

use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use weft_api::auth::Membership;
use weft_api::users::{
    Member, MemberList, MemberRole, NewUser, PasswordChange, UserChange, UserList, UserView,
};
use weft_model::resource::{Resource, Spec};
use weft_model::tenant::{self, Role, TenantSpec};
use weft_model::{Kind, ValidationErrors};

use super::AppState;
use super::body::read_json;
use super::list::ListQuery;
use crate::access::{Caller, memberships};
use crate::auth::{hash_password, rfc3339, verify_password};
use crate::error::{Error, Result};
use crate::store::UserRow;

const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 256;

fn password_problem(password: &str) -> Option<String> {
    (password.chars().count() < MIN_PASSWORD || password.len() > MAX_PASSWORD)
        .then(|| format!("must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"))
}

/// Hashes a password on the hashing threads, taking a turn with logins.
async fn hash(state: &AppState, password: String) -> Result<String> {
    state
        .login_guard
        .hash(move || hash_password(&password))
        .await?
}

async fn view(state: &AppState, row: &UserRow) -> Result<UserView> {
    let tenants = memberships(&state.store)
        .await?
        .into_iter()
        .filter_map(|(tenant, members)| {
            members.get(&row.username).map(|role| Membership {
                tenant,
                role: role.name().to_string(),
            })
        })
        .collect();
    Ok(UserView {
        username: row.username.clone(),
        platform_admin: row.platform_admin,
        created_at: rfc3339(u64::try_from(row.created_at / 1000).unwrap_or(0)),
        tenants,
    })
}

pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<UserList>> {
    let list = ListQuery::parse(&query, false)?;
    let page = list.page(state.store.users().await?, |row| &row.username);
    let mut items = Vec::new();
    for row in &page.items {
        items.push(view(&state, row).await?);
    }
    Ok(Json(UserList {
        items,
        continue_token: page.next,
    }))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<(StatusCode, Json<UserView>)> {
    let request: NewUser = read_json(body).await?;
    let mut errors = weft_model::error::Errors::new();
    if let Some(problem) = tenant::user_problem(&request.username) {
        errors.add("username", problem);
    }
    if let Some(problem) = password_problem(&request.password) {
        errors.add("password", problem);
    }
    errors.finish()?;
    let row = UserRow::new(
        &request.username,
        hash(&state, request.password).await?,
        request.platform_admin,
    );
    state.store.create_user(&row, &caller.actor()).await?;
    tracing::info!(user = %row.username, by = %caller.user, "user created");
    Ok((StatusCode::CREATED, Json(view(&state, &row).await?)))
}

/// A user reads themselves; platform admins read anyone.
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(username): Path<String>,
) -> Result<Json<UserView>> {
    let not_found = || Error::NotFound(format!("user {username:?}"));
    if !caller.platform_admin && caller.user != username {
        return Err(not_found());
    }
    let row = state.store.user(&username).await?.ok_or_else(not_found)?;
    Ok(Json(view(&state, &row).await?))
}

pub async fn change(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(username): Path<String>,
    body: Body,
) -> Result<Json<UserView>> {
    let request: UserChange = read_json(body).await?;
    if let Some(platform_admin) = request.platform_admin {
        state
            .store
            .set_platform_admin(&username, platform_admin, &caller.actor())
            .await?;
        tracing::info!(user = %username, platform_admin, by = %caller.user, "user changed");
    }
    let row = state
        .store
        .user(&username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user {username:?}")))?;
    Ok(Json(view(&state, &row).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(username): Path<String>,
) -> Result<StatusCode> {
    state.store.delete_user(&username, &caller.actor()).await?;
    tracing::info!(user = %username, by = %caller.user, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Changes a password: users their own (with the current one), platform admins anyone's.
/// Every token of the user stops working.
pub async fn set_password(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(username): Path<String>,
    body: Body,
) -> Result<StatusCode> {
    let not_found = || Error::NotFound(format!("user {username:?}"));
    let own = caller.user == username;
    if !own && !caller.platform_admin {
        return Err(not_found());
    }
    let request: PasswordChange = read_json(body).await?;
    if let Some(problem) = password_problem(&request.new_password) {
        return Err(ValidationErrors::single("newPassword", problem).into());
    }
    let row = state.store.user(&username).await?.ok_or_else(not_found)?;
    if own {
        let current = request.current_password.clone().unwrap_or_default();
        let stored = row.password_hash.clone();
        let valid = state
            .login_guard
            .hash(move || verify_password(&current, Some(&stored)))
            .await?;
        if !valid {
            return Err(ValidationErrors::single("currentPassword", "is not your password").into());
        }
    }
    let hashed = hash(&state, request.new_password).await?;
    state
        .store
        .set_password(&username, &hashed, &caller.actor())
        .await?;
    tracing::info!(user = %username, by = %caller.user, "password changed; the user's tokens are revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant as stored, typed.
async fn tenant(state: &AppState, name: &str) -> Result<(Resource, u64)> {
    let row = state
        .store
        .get(Kind::Tenant, "", name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("tenant {name:?}")))?;
    Ok((row.to_resource()?, row.revision))
}

fn members_of(resource: &Resource) -> Result<&TenantSpec> {
    match &resource.spec {
        Spec::Tenant(spec) => Ok(spec),
        _ => Err(Error::Internal("a tenant row holds another kind".into())),
    }
}

pub async fn list_members(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<MemberList>> {
    let list = ListQuery::parse(&query, false)?;
    let (resource, _) = tenant(&state, &name).await?;
    let members = members_of(&resource)?
        .members
        .iter()
        .filter_map(|member| {
            Some(Member {
                user: member.user.clone(),
                role: member.role?.name().to_string(),
            })
        })
        .collect();
    let page = list.page(members, |member| &member.user);
    Ok(Json(MemberList {
        items: page.items,
        continue_token: page.next,
    }))
}

fn parse_role(text: &str) -> Result<Role> {
    Role::parse(text)
        .ok_or_else(|| ValidationErrors::single("role", "must be owner, editor or viewer").into())
}

/// Changes the tenant's members with `edit` and stores the tenant (optimistically: a
/// concurrent change is read again, a few times).
async fn edit_members(
    state: &AppState,
    caller: &Caller,
    name: &str,
    edit: impl Fn(&mut Vec<tenant::Member>) -> Result<()>,
) -> Result<()> {
    for _ in 0..5 {
        let (mut resource, revision) = tenant(state, name).await?;
        let Spec::Tenant(spec) = &mut resource.spec else {
            return Err(Error::Internal("a tenant row holds another kind".into()));
        };
        edit(&mut spec.members)?;
        let mut check = weft_model::error::Errors::new();
        spec.check(&mut check, "spec");
        check.finish()?;
        if !caller.platform_admin
            && !spec
                .members
                .iter()
                .any(|member| member.role == Some(Role::Owner))
        {
            return Err(Error::Conflict(
                "a tenant keeps at least one owner; add another owner first".into(),
            ));
        }
        match state
            .store
            .put(&resource, Some(revision), &caller.actor())
            .await
        {
            Err(Error::Conflict(_)) => continue,
            other => return other.map(|_| ()),
        }
    }
    Err(Error::Conflict(format!(
        "tenant {name:?} keeps changing; try again"
    )))
}

async fn require_user(state: &AppState, user: &str) -> Result<()> {
    if state.store.user(user).await?.is_none() {
        return Err(ValidationErrors::single("user", format!("no user is named {user:?}")).into());
    }
    Ok(())
}

pub async fn add_member(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<Member>)> {
    let request: Member = read_json(body).await?;
    let role = parse_role(&request.role)?;
    require_user(&state, &request.user).await?;
    edit_members(&state, &caller, &name, |members| {
        if members.iter().any(|member| member.user == request.user) {
            return Err(Error::Conflict(format!(
                "{:?} is a member already; PUT …/members/{} changes the role",
                request.user, request.user
            )));
        }
        members.push(tenant::Member {
            user: request.user.clone(),
            role: Some(role),
        });
        Ok(())
    })
    .await?;
    tracing::info!(tenant = %name, user = %request.user, role = role.name(), by = %caller.user, "member added");
    Ok((StatusCode::CREATED, Json(request)))
}

pub async fn set_member(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, user)): Path<(String, String)>,
    body: Body,
) -> Result<Json<Member>> {
    let request: MemberRole = read_json(body).await?;
    let role = parse_role(&request.role)?;
    require_user(&state, &user).await?;
    edit_members(&state, &caller, &name, |members| {
        match members.iter_mut().find(|member| member.user == user) {
            Some(member) => member.role = Some(role),
            None => members.push(tenant::Member {
                user: user.clone(),
                role: Some(role),
            }),
        }
        Ok(())
    })
    .await?;
    tracing::info!(tenant = %name, user = %user, role = role.name(), by = %caller.user, "member role set");
    Ok(Json(Member {
        user,
        role: role.name().to_string(),
    }))
}

pub async fn remove_member(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, user)): Path<(String, String)>,
) -> Result<StatusCode> {
    edit_members(&state, &caller, &name, |members| {
        let before = members.len();
        members.retain(|member| member.user != user);
        if members.len() == before {
            return Err(Error::NotFound(format!("member {user:?}")));
        }
        Ok(())
    })
    .await?;
    tracing::info!(tenant = %name, user = %user, by = %caller.user, "member removed");
    Ok(StatusCode::NO_CONTENT)
}

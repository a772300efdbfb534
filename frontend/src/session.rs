//! The login token, kept in the browser's local storage so a reload stays logged in.

const TOKEN_KEY: &str = "weft.token";
const EXPIRY_KEY: &str = "weft.expiresAt";
const TENANT_KEY: &str = "weft.tenant";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

pub fn token() -> Option<String> {
    let storage = storage()?;
    let token = storage.get_item(TOKEN_KEY).ok()??;
    let expires_at = storage.get_item(EXPIRY_KEY).ok()?.unwrap_or_default();
    let expired = js_sys::Date::parse(&expires_at) <= js_sys::Date::now();
    if expired {
        clear();
        return None;
    }
    Some(token)
}

pub fn store(token: &str, expires_at: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(TOKEN_KEY, token);
        let _ = storage.set_item(EXPIRY_KEY, expires_at);
    }
}

pub fn clear() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(TOKEN_KEY);
        let _ = storage.remove_item(EXPIRY_KEY);
        let _ = storage.remove_item(TENANT_KEY);
    }
}

/// The tenant the console shows (empty: every tenant the user is in).
pub fn tenant() -> String {
    storage()
        .and_then(|storage| storage.get_item(TENANT_KEY).ok().flatten())
        .unwrap_or_default()
}

pub fn set_tenant(tenant: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(TENANT_KEY, tenant);
    }
}

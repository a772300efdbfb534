//! Serves the console's static files, with index.html for every client-side route.

use std::convert::Infallible;
use std::path::PathBuf;

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use tower_http::services::{ServeDir, ServeFile};

pub fn service(console_dir: Option<PathBuf>) -> MethodRouter<(), Infallible> {
    match console_dir.filter(|dir| dir.join("index.html").is_file()) {
        Some(dir) => {
            let index = ServeFile::new(dir.join("index.html"));
            // `cargo xtask console` writes .gz beside the large files.
            axum::routing::get_service(ServeDir::new(dir).precompressed_gzip().fallback(index))
        }
        None => get(missing),
    }
}

/// `GET /api/graphql`: the console's page, which routes itself to its GraphQL explorer (a
/// query editor, variables, the answer and the schema's types, like GraphiQL, but from this
/// origin only, so the content security policy stays strict).
pub async fn graphql_explorer(
    axum::extract::State(state): axum::extract::State<super::AppState>,
) -> crate::error::Result<Response> {
    let Some(index) = state.console_dir.map(|dir| dir.join("index.html")) else {
        return Err(not_built());
    };
    match tokio::fs::read_to_string(&index).await {
        Ok(html) => Ok(([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response()),
        Err(error) => {
            tracing::warn!(%error, path = %index.display(), "cannot read the console's index.html");
            Err(not_built())
        }
    }
}

fn not_built() -> crate::error::Error {
    crate::error::Error::NotFound(
        "the GraphQL explorer (this global serves no console; build it with `cargo xtask console` \
         and pass --console-dir)"
            .into(),
    )
}

async fn missing() -> Response {
    let body = "<!doctype html><title>Weft</title><h1>Console not built</h1>\
        <p>weft-global found no console assets (index.html) in its --console-dir. \
        Build them with <code>cargo xtask console</code> and point <code>--console-dir</code> \
        (or <code>WEFT_CONSOLE_DIR</code>) at the output. The API under <code>/api</code> works regardless.</p>";
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CACHE_CONTROL, "no-store")],
        Html(body),
    )
        .into_response()
}

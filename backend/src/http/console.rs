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

//! The browser bundle under `/pkg`, as `build_site` leaves it: each file beside its brotli and
//! gzip forms, served in the one the browser accepts; file names that carry their content's hash
//! (`execgov.<hash>.wasm`) cached for a year as immutable, the others (the stylesheet) checked
//! again on every use.

use std::net::SocketAddr;
use std::path::Path;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use leptos::config::LeptosOptions;
use tower_http::services::ServeDir;

/// The folder of the bundle under the site root, and the path it is served at.
const PKG: &str = "pkg";

/// Written by `build_site` beside the bundle: the hash in the JavaScript's and WebAssembly's
/// names, in Leptos's format (`js: <hash>`, `wasm: <hash>`).
const HASH_FILE: &str = "hash.txt";

/// Leptos's options for the site root `site_root`: the hydration script names the hashed files
/// when the build wrote their hashes, the plain names otherwise.
pub fn leptos_options(site_root: &Path, addr: SocketAddr) -> LeptosOptions {
    let hash_file = site_root.join(PKG).join(HASH_FILE);
    LeptosOptions::builder()
        .output_name("execgov")
        .site_root(site_root.to_string_lossy().to_string())
        .site_pkg_dir(PKG)
        .site_addr(addr)
        .hash_files(hash_file.is_file())
        // Leptos looks beside the binary unless the path is absolute.
        .hash_file(std::sync::Arc::from(
            std::path::absolute(&hash_file)
                .unwrap_or(hash_file)
                .to_string_lossy()
                .as_ref(),
        ))
        .build()
}

pub fn routes<S: Clone + Send + Sync + 'static>(options: &LeptosOptions) -> Router<S> {
    let files = ServeDir::new(Path::new(options.site_root.as_ref()).join(PKG))
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .nest_service(&format!("/{PKG}"), files)
        .layer(middleware::from_fn(cache_control))
}

async fn cache_control(req: Request, next: Next) -> Response {
    let hashed = is_hashed(req.uri().path());
    let mut response = next.run(req).await;
    if response.status().is_success() || response.status().as_u16() == 304 {
        let policy = if hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// Whether a file name carries a content hash: a part of at least 16 hex digits between dots.
fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() >= 3
        && parts[1..parts.len() - 1]
            .iter()
            .any(|p| p.len() >= 16 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::is_hashed;

    #[test]
    fn only_names_with_a_content_hash_count_as_hashed() {
        assert!(is_hashed("/pkg/execgov.0123456789abcdef.wasm"));
        assert!(is_hashed("/pkg/execgov.0123456789abcdef0123.js"));
        assert!(!is_hashed("/pkg/execgov.css"));
        assert!(!is_hashed("/pkg/execgov_bg.wasm"));
        assert!(!is_hashed("/pkg/execgov.0123.js"));
        assert!(!is_hashed("/pkg/0123456789abcdef.js"));
    }
}

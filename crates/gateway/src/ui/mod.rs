//! The usage dashboard at `/ui` (issue 12 §4): its routes, the pages and static assets embedded
//! in the binary (plain HTML, one JS module, CSS and the vendored uPlot chart library; no CDN and
//! no build step), the login that guards it ([`auth`]) and the JSON endpoints under `/ui/api/`
//! that the page reads ([`api`], documented in `docs/ui-api.md`).
//!
//! Routes:
//! - `GET /ui` — the dashboard, or the login form when the gateway has a master key and the
//!   browser has no valid session cookie.
//! - `POST /ui/login`, `POST|GET /ui/logout` — start and end a session ([`auth`]).
//! - `GET /ui/assets/{file}` — the embedded static files (no data in them, so no key needed).
//! - `GET /ui/api/…` — the JSON API (the session cookie, or the master key as
//!   `Authorization: Bearer` / `x-api-key`).

mod api;
mod auth;
mod json;
mod now;

use crate::state::GatewayState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::sync::Arc;

/// The dashboard's page (the app itself is `app.js`).
const INDEX_HTML: &str = include_str!("assets/index.html");
/// The sign-out button, shown when there is a key to sign in with.
const LOGOUT_FORM: &str = "<form method=\"post\" action=\"/ui/logout\" class=\"logout\">\
    <button type=\"submit\" data-testid=\"logout\">Sign out</button></form>";
/// The login form; `{{error}}` is replaced by the error paragraph (or nothing).
const LOGIN_HTML: &str = include_str!("assets/login.html");

/// The files under `/ui/assets/`: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/style.css"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/vendor/uplot/uPlot.min.css"),
    ),
    (
        "uPlot-LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("assets/vendor/uplot/LICENSE"),
    ),
];

/// Only the gateway's own files run on the page; no frames; no third-party requests.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                   form-action 'self'; base-uri 'none'";

/// The `/ui` routes, to be merged into the gateway's router outside the master-key layer (they
/// check the key themselves: a browser cannot send a bearer header when following a link).
pub fn routes(state: Arc<GatewayState>) -> Router<Arc<GatewayState>> {
    let api = Router::new()
        .route("/ui/api/summary", get(api::summary))
        .route("/ui/api/series", get(api::series))
        .route("/ui/api/breakdown", get(api::breakdown))
        .route("/ui/api/requests", get(api::requests))
        .route("/ui/api/requests/{id}", get(api::request))
        .route("/ui/api/now", get(now::now))
        .layer(axum::middleware::from_fn_with_state(state, auth::require));
    Router::new()
        .route("/ui", get(page))
        .route("/ui/", get(|| async { Redirect::to("/ui") }))
        .route(
            "/ui/login",
            post(auth::login).get(|| async { Redirect::to("/ui") }),
        )
        .route("/ui/logout", post(auth::logout).get(auth::logout))
        .route("/ui/assets/{file}", get(asset))
        .merge(api)
}

/// `GET /ui`: the dashboard for a signed-in browser (or any, without a master key), else the
/// login form.
async fn page(State(gw): State<Arc<GatewayState>>, headers: HeaderMap) -> Response {
    if auth::signed_in(&gw, &headers) {
        let logout = if gw.master_key.is_some() {
            LOGOUT_FORM
        } else {
            ""
        };
        html(StatusCode::OK, INDEX_HTML.replace("{{logout}}", logout))
    } else {
        login_form(StatusCode::OK, None)
    }
}

/// The login form with an optional error (plain text, escaped; never the key that was typed).
fn login_form(status: StatusCode, error: Option<&str>) -> Response {
    let error = error
        .map(|e| {
            format!(
                "<p class=\"error\" data-testid=\"login-error\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    html(status, LOGIN_HTML.replace("{{error}}", &error))
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn secure_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// `GET /ui/assets/{file}`: an embedded file, or a 404 naming the files there are.
async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, content_type, bytes)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        let names: Vec<&str> = ASSETS.iter().map(|(n, _, _)| *n).collect();
        return api::error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no dashboard asset '{file}'; there are: {}",
                names.join(", ")
            ),
        );
    };
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The files change only with the binary; revalidating once per page load is cheap enough.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure_headers(h);
    r
}

/// HTML-escapes text for an element's content or a quoted attribute.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("<b a=\"x\">'&'</b>"),
            "&lt;b a=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn every_asset_the_page_loads_is_embedded() {
        for needed in ["app.js", "style.css", "uPlot.iife.min.js", "uPlot.min.css"] {
            assert!(
                INDEX_HTML.contains(&format!("/ui/assets/{needed}")),
                "index.html does not load {needed}"
            );
            assert!(ASSETS.iter().any(|(n, _, b)| *n == needed && !b.is_empty()));
        }
        assert!(LOGIN_HTML.contains("{{error}}"));
        assert!(INDEX_HTML.contains("{{logout}}"));
    }
}

//! The dashboard's login: when the gateway has a master key, `/ui` shows a form; the right key
//! posted to `/ui/login` gives the browser a session cookie, and `/ui/api/…` accept that cookie
//! or the key itself (`Authorization: Bearer` / `x-api-key`, as every other endpoint). Without a
//! master key (the loopback default) everything is open.
//!
//! The cookie never holds the key: its value is `v1.<issued>.<tag>`, where `issued` is the Unix
//! second it was made and `tag` is base64url(HMAC-SHA256(master key, "agent-shim ui session v1
//! <issued>")). The gateway keeps no session table: a cookie is valid while the master key is
//! unchanged and for [`SESSION_SECONDS`] after it was issued. It is `HttpOnly` (no script can read
//! it), `SameSite=Strict` (no other site can send it) and `Path=/ui`; not `Secure`, because the
//! gateway serves plain HTTP on loopback (put a TLS proxy in front to serve it remotely).

use super::api;
use crate::state::GatewayState;
use aws_lc_rs::hmac;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use std::sync::Arc;

/// The session cookie's name.
pub const COOKIE: &str = "agent_shim_ui";
/// How long a session lasts: 30 days.
pub const SESSION_SECONDS: u64 = 30 * 24 * 3600;
/// What the tag signs, before the issue time.
const PURPOSE: &str = "agent-shim ui session v1 ";

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn signing_key(master: &str) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, master.as_bytes())
}

/// A session cookie value made at `issued` (Unix s) under `master`.
pub fn session_value(master: &str, issued: u64) -> String {
    let tag = hmac::sign(
        &signing_key(master),
        format!("{PURPOSE}{issued}").as_bytes(),
    );
    format!("v1.{issued}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Whether `value` is a session made under `master` that has not expired at `now` (Unix s).
/// The tag is compared in constant time.
pub fn session_valid(master: &str, value: &str, now: u64) -> bool {
    let mut parts = value.splitn(3, '.');
    let (Some("v1"), Some(issued), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(issued), Ok(tag)) = (issued.parse::<u64>(), URL_SAFE_NO_PAD.decode(tag)) else {
        return false;
    };
    // A minute of clock skew allowed (several instances behind one balancer).
    if issued > now.saturating_add(60) || now.saturating_sub(issued) > SESSION_SECONDS {
        return false;
    }
    hmac::verify(
        &signing_key(master),
        format!("{PURPOSE}{issued}").as_bytes(),
        &tag,
    )
    .is_ok()
}

/// The values of cookie `name` in the request's `Cookie` headers.
fn cookies<'h>(headers: &'h HeaderMap, name: &'h str) -> impl Iterator<Item = &'h str> + 'h {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim())
        })
}

/// Whether the browser holds a valid session (always true without a master key).
pub fn signed_in(gw: &GatewayState, headers: &HeaderMap) -> bool {
    let Some(key) = &gw.master_key else {
        return true;
    };
    let now = now_s();
    cookies(headers, COOKIE).any(|v| session_valid(key.expose(), v, now))
}

/// Middleware of `/ui/api/…`: a valid session cookie or the master key, else 401 JSON.
pub async fn require(State(gw): State<Arc<GatewayState>>, req: Request, next: Next) -> Response {
    let ok = match &gw.master_key {
        None => true,
        Some(key) => {
            signed_in(&gw, req.headers())
                || crate::server::presented_keys(req.headers()).any(|k| key.matches(k))
        }
    };
    if !ok {
        return api::error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "sign in at /ui, or send the gateway's master key as `Authorization: Bearer <key>` or \
             `x-api-key` (`agent-shim env <profile>` prints it as ANTHROPIC_AUTH_TOKEN)"
                .into(),
        );
    }
    next.run(req).await
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    key: String,
}

/// `POST /ui/login` (form field `key`): the master key sets the session cookie and goes back to
/// `/ui`; anything else shows the form again with an error (never the key typed).
pub async fn login(
    State(gw): State<Arc<GatewayState>>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Some(master) = &gw.master_key else {
        return Redirect::to("/ui").into_response();
    };
    let typed = match &form {
        Ok(Form(f)) => f.key.trim(),
        Err(_) => "",
    };
    if typed.is_empty() {
        return super::login_form(
            StatusCode::BAD_REQUEST,
            Some("Enter the gateway's master key."),
        );
    }
    if !master.matches(typed) {
        tracing::info!("dashboard login refused: wrong master key");
        return super::login_form(
            StatusCode::UNAUTHORIZED,
            Some(
                "That is not this gateway's master key. `agent-shim env <profile>` prints it as \
                 ANTHROPIC_AUTH_TOKEN.",
            ),
        );
    }
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/ui; Max-Age={SESSION_SECONDS}",
        session_value(master.expose(), now_s())
    );
    with_cookie(cookie)
}

/// `POST|GET /ui/logout`: clears the session cookie and goes back to `/ui`.
pub async fn logout() -> Response {
    with_cookie(format!(
        "{COOKIE}=; HttpOnly; SameSite=Strict; Path=/ui; Max-Age=0"
    ))
}

/// A 303 to `/ui` setting `cookie`.
fn with_cookie(cookie: String) -> Response {
    let mut r = Redirect::to("/ui").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_800_000_000;

    #[test]
    fn a_session_is_valid_under_its_key_until_it_expires() {
        let v = session_value("sk-master", T);
        assert!(!v.contains("sk-master"));
        assert!(session_valid("sk-master", &v, T));
        assert!(session_valid("sk-master", &v, T + SESSION_SECONDS));
        assert!(!session_valid("sk-master", &v, T + SESSION_SECONDS + 1));
        assert!(!session_valid("sk-other", &v, T), "another key");
        assert!(
            !session_valid("sk-master", &v, T - 3600),
            "issued in the future"
        );
    }

    #[test]
    fn forged_or_malformed_values_are_refused() {
        let v = session_value("sk-master", T);
        let later = v.replacen(&T.to_string(), &(T + 5).to_string(), 1);
        for bad in [
            "",
            "v1",
            "v1.x.y",
            "v2.1800000000.abc",
            &later,
            "sk-master",
            &format!("{v}A"),
        ] {
            assert!(!session_valid("sk-master", bad, T + 10), "{bad:?}");
        }
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; agent_shim_ui=v1.2.x"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("agent_shim_ui = v1.3.y"),
        );
        assert_eq!(
            cookies(&h, COOKIE).collect::<Vec<_>>(),
            ["v1.2.x", "v1.3.y"]
        );
    }
}

//! The dashboard's door: with a master key, `/ui` is a login form whose cookie (an HMAC under
//! the key, never the key) opens the page and `/ui/api/…`; without one, everything is open; the
//! assets are embedded and served with their types.

use crate::common::{MASTER_KEY, Running};
use crate::ui_api::{gateway_with_ledger, workload};
use reqwest::StatusCode;
use serde_json::Value;

/// A client that does not follow redirects, so the login's 303 and cookie can be read.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login(g: &Running, key: &str) -> reqwest::Response {
    no_redirects()
        .post(format!("{}/ui/login", g.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key={key}"))
        .send()
        .await
        .unwrap()
}

async fn with_cookie(g: &Running, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut r = no_redirects().get(format!("{}{path}", g.base));
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn the_master_key_guards_the_page_and_the_api_through_a_login_cookie() {
    let (g, _dir) = gateway_with_ledger(Some(workload()), true).await;
    // Signed out: the page is the login form, the API a 401 in JSON.
    let page = with_cookie(&g, "/ui", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-testid=\"login-form\"") && !html.contains("data-testid=\"cards\""));
    let r = with_cookie(&g, "/ui/api/summary", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    // A wrong key: the form again with an error, the typed key not echoed.
    let r = login(&g, "sk-wrong-guess-1234").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("set-cookie").is_none());
    let html = r.text().await.unwrap();
    assert!(
        html.contains("That is not this gateway") && html.contains("login-form"),
        "{html}"
    );
    assert!(!html.contains("sk-wrong-guess-1234"));
    assert_eq!(login(&g, "").await.status(), StatusCode::BAD_REQUEST);
    // The right key: a 303 to /ui with an HttpOnly, SameSite=Strict, Path=/ui cookie that is not the key.
    let r = login(&g, MASTER_KEY).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/ui");
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=2592000"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains(MASTER_KEY), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("agent_shim_ui=v1."), "{cookie}");
    let page = with_cookie(&g, "/ui", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-testid=\"cards\"") && page.contains("data-testid=\"logout\""));
    let r = with_cookie(&g, "/ui/api/summary", Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["requests"], 6);
    // A forged or altered cookie is refused.
    let forged = format!("{cookie}x");
    assert_eq!(
        with_cookie(&g, "/ui/api/now", Some(&forged)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        with_cookie(
            &g,
            "/ui/api/now",
            Some(&format!("agent_shim_ui={MASTER_KEY}"))
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    // The key itself works on the API, as on every endpoint.
    let r = no_redirects()
        .get(format!("{}/ui/api/now", g.base))
        .header("x-api-key", MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = no_redirects()
        .get(format!("{}/ui/api/now", g.base))
        .bearer_auth("sk-nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Signing out clears the cookie.
    let r = no_redirects()
        .post(format!("{}/ui/logout", g.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with("agent_shim_ui=;") && set.contains("Max-Age=0"),
        "{set}"
    );
}

#[tokio::test]
async fn without_a_master_key_the_dashboard_is_open() {
    let (g, _dir) = gateway_with_ledger(Some(workload()), false).await;
    let page = with_cookie(&g, "/ui", None).await;
    let html = page.text().await.unwrap();
    assert!(html.contains("data-testid=\"cards\"") && !html.contains("data-testid=\"logout\""));
    let r = with_cookie(&g, "/ui/api/summary?range=7d", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["requests"], 7);
    // Logging in has nothing to check: back to the page.
    assert_eq!(login(&g, "anything").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_assets_are_embedded_and_served_with_their_types() {
    let (g, _dir) = gateway_with_ledger(None, true).await;
    for (file, ty, has) in [
        ("app.js", "text/javascript", "/ui/api/summary"),
        ("style.css", "text/css", ".cards"),
        ("uPlot.iife.min.js", "text/javascript", "uPlot (v1.6.32)"),
        ("uPlot.min.css", "text/css", ".uplot"),
        ("uPlot-LICENSE.txt", "text/plain", "MIT"),
    ] {
        let r = with_cookie(&g, &format!("/ui/assets/{file}"), None).await;
        assert_eq!(r.status(), StatusCode::OK, "{file}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ty),
            "{file}"
        );
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'self'")
        );
        assert!(r.text().await.unwrap().contains(has), "{file}");
    }
    let r = with_cookie(&g, "/ui/assets/secret.txt", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("app.js"),
        "{v}"
    );
}

//! Image URLs sent to a Converse model: Bedrock takes image bytes only, so the gateway fetches
//! them (http/https, PNG/JPEG/GIF/WebP, at most 3.75 MB) and sends base64; a URL it cannot use
//! is a 400 naming the URL and the limit, and nothing is sent upstream.

use crate::bedrock::{KEY_ID, NOVA, PNG_B64, accepted, aws_fake, gateway_of, keyed, post};
use crate::faults::clients::{Client, answer_text};
use base64::Engine;
use fake_provider::{BedrockOperation as Op, Reply};
use serde_json::json;

/// Serves `/pixel.png` (a PNG), `/page.html` (HTML) and `/big.png` (4 MB) on a local port.
async fn image_server() -> String {
    use axum::http::header::CONTENT_TYPE;
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG_B64)
        .unwrap();
    let app = axum::Router::new()
        .route(
            "/pixel.png",
            axum::routing::get(move || {
                let png = png.clone();
                async move { ([(CONTENT_TYPE, "image/png")], png) }
            }),
        )
        .route(
            "/page.html",
            axum::routing::get(|| async { ([(CONTENT_TYPE, "text/html")], "<html></html>") }),
        )
        .route(
            "/big.png",
            axum::routing::get(|| async { ([(CONTENT_TYPE, "image/png")], vec![0u8; 4_000_000]) }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn image_urls_are_fetched_into_bytes_for_converse() {
    let fake = aws_fake()
        .bedrock(NOVA, Op::Converse, Reply::text("A red pixel."))
        .start()
        .await
        .unwrap();
    let gw = gateway_of(vec![keyed("nova", NOVA, &fake)], 0).await;
    let images = image_server().await;
    let chat = json!({"model": "nova", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": format!("{images}/pixel.png")}},
        {"type": "text", "text": "What is this?"}]}]});
    let resp = post(&gw, Client::Chat, &chat, &[]).await;
    assert_eq!(resp.status(), 200);
    let text = answer_text(Client::Chat, false, &resp.bytes().await.unwrap());
    assert_eq!(text, "A red pixel.");
    let reqs = accepted(&fake, KEY_ID);
    assert_eq!(
        reqs[0].body["messages"][0]["content"][0],
        json!({"image": {"format": "png", "source": {"bytes": PNG_B64}}})
    );
}

#[tokio::test]
async fn image_urls_bedrock_cannot_take_are_refused_naming_the_url_and_the_limit() {
    let fake = aws_fake()
        .bedrock(NOVA, Op::Converse, Reply::text("unused"))
        .start()
        .await
        .unwrap();
    let gw = gateway_of(vec![keyed("nova", NOVA, &fake)], 0).await;
    let images = image_server().await;
    for (url, why) in [
        (
            format!("{images}/page.html"),
            "is not PNG, JPEG, GIF or WebP",
        ),
        (format!("{images}/big.png"), "larger than 3750000 bytes"),
        ("ftp://example.com/x.png".to_owned(), "only http and https"),
    ] {
        let body = json!({"model": "nova", "max_tokens": 50, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": url}},
            {"type": "text", "text": "What is this?"}]}]});
        let resp = post(&gw, Client::Anthropic, &body, &[]).await;
        assert_eq!(resp.status(), 400, "{url}");
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(&url) && msg.contains(why), "{msg}");
    }
    assert!(fake.aws_requests().is_empty(), "nothing was sent upstream");
}

//! Opt-in body capture (issue 12 §1, `general_settings.store_prompts_in_spend_logs`): off, a
//! record carries no text; on, it carries the request body the client sent and the response
//! as the client received it (a stream's SSE text), cut at the cap and marked, and never a
//! header (the API key).

use crate::common::*;
use crate::ledger_record::{dep_id, post, recording_with, the_record};
use crate::router::settings;
use serde_json::json;

const MARK: &str = ledger::record::TRUNCATED_MARK;

#[tokio::test]
async fn capture_off_records_no_text() {
    let fake = fake(json!({"default": {"text": "hello there"}})).await;
    let (gw, mut rx) = recording_with(vec![dep_id("m", "p1", &fake)], settings(), |_| {}).await;
    for stream in [false, true] {
        let resp = post(&gw, "/v1/messages", &claude_request("m", stream), &[]).await;
        assert_eq!(resp.status(), 200);
        let body = resp.bytes().await.unwrap();
        let r = the_record(&mut rx).await;
        assert_eq!(r.response_bytes, body.len() as u64);
        assert_eq!(
            (r.request_body, r.response_body),
            (None, None),
            "stream {stream}"
        );
    }
}

#[tokio::test]
async fn capture_keeps_a_whole_answer_and_its_request_exactly_under_the_cap() {
    let fake = fake(json!({"default": {"text": "hello there"}})).await;
    let (gw, mut rx) = recording_with(vec![dep_id("m", "p1", &fake)], settings(), |c| {
        c.ledger.body_capture = Some(64 * 1024);
    })
    .await;
    let request = claude_request("m", false);
    let resp = post(&gw, "/v1/messages", &request, &[]).await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    let r = the_record(&mut rx).await;
    assert_eq!(
        r.request_body.as_deref(),
        Some(serde_json::to_string(&request).unwrap().as_str())
    );
    assert_eq!(
        r.response_body.as_deref(),
        Some(std::str::from_utf8(&body).unwrap())
    );
    assert!(r.response_body.as_deref().unwrap().contains("hello there"));
    for text in [&r.request_body, &r.response_body] {
        let text = text.as_deref().unwrap();
        assert!(!text.contains(MARK), "{text}");
        assert!(!text.contains(MASTER_KEY), "a header was captured: {text}");
    }

    // An error answer is captured as the client got it too.
    let resp = post(&gw, "/v1/messages", &claude_request("nope", false), &[]).await;
    assert_eq!(resp.status(), 404);
    let body = resp.bytes().await.unwrap();
    let r = the_record(&mut rx).await;
    assert_eq!(
        r.response_body.as_deref(),
        Some(std::str::from_utf8(&body).unwrap())
    );
}

#[tokio::test]
async fn capture_cuts_a_stream_and_its_request_at_the_cap_and_marks_them() {
    let fake =
        fake(json!({"default": {"text": "hello there, a stream longer than the cap"}})).await;
    let cap = 64;
    let (gw, mut rx) = recording_with(vec![dep_id("m", "p1", &fake)], settings(), |c| {
        c.ledger.body_capture = Some(cap);
    })
    .await;
    let request = serde_json::to_string(&claude_request("m", true)).unwrap();
    let resp = post(&gw, "/v1/messages", &claude_request("m", true), &[]).await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    assert!(body.len() > cap, "the stream is longer than the cap");
    let r = the_record(&mut rx).await;
    assert!(r.stream);
    assert_eq!(
        r.request_body.unwrap(),
        format!("{}{MARK}{cap} of {} bytes]", &request[..cap], request.len())
    );
    assert_eq!(
        r.response_body.unwrap(),
        format!(
            "{}{MARK}{cap} of {} bytes]",
            std::str::from_utf8(&body[..cap]).unwrap(),
            body.len()
        )
    );
    assert!(body.starts_with(b"event: message_start\n"));
}

//! Valid JSON of the wrong shape is a 400 in the client's protocol naming the field's path and
//! what was expected, in user words (not serde's `invalid type: string "16384", expected u32`).

use crate::common::*;
use serde_json::{Value, json};

/// No upstream listens here: every request below is refused before one would be called.
const NOWHERE: &str = "http://127.0.0.1:9/v1";

async fn post(gw: &Running, path: &str, body: &Value) -> (u16, Value) {
    let resp = gw
        .http
        .post(format!("{}{path}", gw.base))
        .bearer_auth(MASTER_KEY)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["content-type"], "application/json");
    (status, resp.json().await.unwrap())
}

/// The message of an Anthropic error body, checking its shape.
fn anthropic_message(v: &Value) -> &str {
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    v["error"]["message"].as_str().unwrap()
}

/// The message of an OpenAI error body, checking its shape.
fn openai_message(v: &Value) -> &str {
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    v["error"]["message"].as_str().unwrap()
}

/// Regression: `max_tokens: "16384"` got serde's `invalid type: string "16384", expected u32`.
#[tokio::test]
async fn messages_field_of_the_wrong_type_names_path_and_expectation() {
    let gw = gateway(vec![def("m", "openai/x", NOWHERE)]).await;
    let cases = [
        (
            json!({"model": "m", "max_tokens": "16384", "messages": [{"role": "user", "content": "hi"}]}),
            r#"invalid Messages request body: max_tokens: expected a whole number, got the string "16384""#,
        ),
        (
            json!({"model": "m", "max_tokens": 10, "messages": "hi"}),
            r#"invalid Messages request body: messages: expected an array, got the string "hi""#,
        ),
        (
            json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "txt", "text": "hi"}]}]}),
            r#"invalid Messages request body: messages[0].content[0].type: expected one of "text", "image""#,
        ),
        (
            json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "picture"}]}]}]}),
            r#"messages[0].content[0].content[0].type: expected one of"#,
        ),
        (
            json!({"model": "m", "max_tokens": 10, "messages": [{"content": "hi"}]}),
            "invalid Messages request body: messages[0].role: required, but missing",
        ),
    ];
    for (body, want) in &cases {
        let (status, v) = post(&gw, "/v1/messages", body).await;
        assert_eq!(status, 400, "{body}");
        let msg = anthropic_message(&v);
        assert!(msg.contains(*want), "{msg}\nwanted: {want}");
        assert!(!msg.contains("u32") && !msg.contains("sequence"), "{msg}");
    }
    // The type error of an unknown block names what it got.
    let (_, v) = post(&gw, "/v1/messages", &cases[2].0).await;
    assert!(anthropic_message(&v).ends_with(r#", got "txt""#), "{v}");
}

/// Regression: a Chat request with `messages` as a string got serde's `expected a sequence`.
#[tokio::test]
async fn chat_field_of_the_wrong_type_names_path_and_expectation() {
    let gw = gateway(vec![def("m", "anthropic/x", NOWHERE)]).await;
    let cases = [
        (
            json!({"model": "m", "messages": "hi"}),
            r#"invalid Chat Completions request body: messages: expected an array, got the string "hi""#,
        ),
        (
            json!({"model": "m", "max_tokens": "16384", "messages": []}),
            r#"max_tokens: expected a whole number, got the string "16384""#,
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image", "url": "x"}]}]}),
            r#"messages[0].content[0].type: expected one of "text", "image_url""#,
        ),
        (
            json!({"model": "m", "temperature": "hot", "messages": []}),
            r#"temperature: expected a number, got the string "hot""#,
        ),
    ];
    for (body, want) in cases {
        let (status, v) = post(&gw, "/v1/chat/completions", &body).await;
        assert_eq!(status, 400, "{body}");
        let msg = openai_message(&v);
        assert!(msg.contains(want), "{msg}\nwanted: {want}");
    }
}

/// Regression: a Responses request with a number for `input` got serde's wording.
#[tokio::test]
async fn responses_field_of_the_wrong_type_names_path_and_expectation() {
    let gw = gateway(vec![def("m", "openai/x", NOWHERE)]).await;
    let cases = [
        (
            json!({"model": "m", "input": 5}),
            "invalid Responses request body: input: expected a string or an array, got the number 5",
        ),
        (
            json!({"model": "m", "input": "hi", "max_output_tokens": "100"}),
            r#"max_output_tokens: expected a whole number, got the string "100""#,
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_txt", "text": "hi"}]}]}),
            r#"input[0].content[0].type: expected one of "input_text""#,
        ),
        (
            json!({"model": "m", "input": [{"type": "message", "role": "user", "content": 7}]}),
            "input[0].content: expected a string or an array, got the number 7",
        ),
    ];
    for (body, want) in cases {
        let (status, v) = post(&gw, "/v1/responses", &body).await;
        assert_eq!(status, 400, "{body}");
        let msg = openai_message(&v);
        assert!(msg.contains(want), "{msg}\nwanted: {want}");
    }
}

/// On pass-through the body goes to an upstream of the same protocol, which checks it; the
/// fields the gateway reads itself (`model`, `stream`) are checked on every route.
#[tokio::test]
async fn fields_the_gateway_reads_are_checked_on_pass_through() {
    let gw = gateway(vec![def("m", "anthropic/x", NOWHERE)]).await;
    let cases = [
        (
            json!({"model": 3, "max_tokens": 10, "messages": []}),
            "invalid request body: model: expected a string, got the number 3",
        ),
        (
            json!({"model": "m", "stream": "yes", "max_tokens": 10, "messages": []}),
            r#"invalid request body: stream: expected true or false, got the string "yes""#,
        ),
    ];
    for (body, want) in cases {
        let (status, v) = post(&gw, "/v1/messages", &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(anthropic_message(&v), want);
    }
}

/// Regression: `/model/new` answered serde's `invalid type: string "many", expected u32`.
#[tokio::test]
async fn admin_body_of_the_wrong_shape_names_path_and_expectation() {
    let gw = gateway(vec![]).await;
    let body =
        json!({"model_name": "x", "litellm_params": {"model": "openai/y", "max_tokens": "many"}});
    let (status, v) = post(&gw, "/model/new", &body).await;
    assert_eq!(status, 400);
    let msg = openai_message(&v);
    assert!(
        msg.contains(
            r#"litellm_params.max_tokens: expected a whole number, got the string "many""#
        ),
        "{msg}"
    );
    let (status, v) = post(&gw, "/model/delete", &json!({"id": 5})).await;
    assert_eq!(status, 400);
    assert!(
        openai_message(&v).contains("id: expected a string, got the number 5"),
        "{v}"
    );
}

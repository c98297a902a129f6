//! OpenAI Responses wire format: response object, exact event sequence with
//! sequence numbers, incomplete status, response.failed.

mod common;

use common::{Sse, post, start};
use serde_json::{Value, json};

const SCRIPT: &str = r#"{"steps":[{"reply":{
    "text":"Sure thing",
    "reasoning":"plan it",
    "tool_calls":[{"id":"call_9","name":"shell","arguments":{"cmd":["ls"]}}],
    "usage":{"input":30,"output":12,"cached":5},
    "stream":{"text_chunks":2,"arg_fragments":2}
}}]}"#;

fn req(stream: bool) -> Value {
    json!({"model":"gpt-resp","stream":stream,"store":false,"include":["reasoning.encrypted_content"],
           "input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}]})
}

/// Event name (checked against JSON type and the sequence number).
fn kinds(evs: &[Sse]) -> Vec<String> {
    evs.iter()
        .enumerate()
        .map(|(i, ev)| {
            let name = ev.event.clone().expect("responses events are named");
            let v = ev.json();
            assert_eq!(v["type"], name.as_str());
            assert_eq!(v["sequence_number"], i as u64, "sequence_number of {name}");
            match name.as_str() {
                "response.output_item.added" | "response.output_item.done" => {
                    format!("{name}:{}", v["item"]["type"].as_str().unwrap_or("?"))
                }
                _ => name,
            }
        })
        .collect()
}

#[tokio::test]
async fn non_streaming_response() {
    let fake = start(SCRIPT).await;
    let r = post(fake.addr(), "/v1/responses", &[], &req(false)).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["model"], "gpt-resp");
    assert!(v["id"].as_str().is_some_and(|s| s.starts_with("resp_")));
    assert!(v["created_at"].is_u64());
    let out = v["output"].as_array().expect("output");
    assert_eq!(out.len(), 3);
    assert_eq!(out[0]["type"], "reasoning");
    assert_eq!(
        out[0]["summary"],
        json!([{"type":"summary_text","text":"plan it"}])
    );
    assert!(out[0]["encrypted_content"].is_string());
    assert_eq!(out[1]["type"], "message");
    assert_eq!(out[1]["role"], "assistant");
    assert_eq!(out[1]["content"][0]["type"], "output_text");
    assert_eq!(out[1]["content"][0]["text"], "Sure thing");
    assert_eq!(out[2]["type"], "function_call");
    assert_eq!(out[2]["call_id"], "call_9");
    assert_eq!(out[2]["name"], "shell");
    assert_eq!(out[2]["arguments"], "{\"cmd\":[\"ls\"]}");
    assert_eq!(
        v["usage"],
        json!({"input_tokens":30,"input_tokens_details":{"cached_tokens":5},"output_tokens":12,
               "output_tokens_details":{"reasoning_tokens":2},"total_tokens":42})
    );
}

#[tokio::test]
async fn streaming_exact_sequence() {
    let fake = start(SCRIPT).await;
    let r = post(fake.addr(), "/responses", &[], &req(true)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(r.complete);
    assert!(!r.text().contains("[DONE]"));
    let evs = r.sse();
    assert_eq!(
        kinds(&evs),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added:reasoning",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done:reasoning",
            "response.output_item.added:message",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done:message",
            "response.output_item.added:function_call",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done:function_call",
            "response.completed",
        ]
    );
    let created = evs[0].json();
    assert_eq!(created["response"]["status"], "in_progress");
    assert_eq!(created["response"]["output"], json!([]));
    let msg_id = evs[9].json()["item"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let text: String = evs[11..13]
        .iter()
        .map(|e| {
            let v = e.json();
            assert_eq!(v["item_id"], msg_id.as_str());
            assert_eq!(v["output_index"], 1);
            assert_eq!(v["content_index"], 0);
            v["delta"].as_str().unwrap_or("").to_string()
        })
        .collect();
    assert_eq!(text, "Sure thing");
    assert_eq!(evs[13].json()["text"], "Sure thing");
    let added = evs[16].json();
    assert_eq!(added["item"]["arguments"], "");
    assert_eq!(added["item"]["call_id"], "call_9");
    let args: String = evs[17..19]
        .iter()
        .map(|e| e.json()["delta"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(args, "{\"cmd\":[\"ls\"]}");
    assert_eq!(evs[19].json()["arguments"], args.as_str());
    assert_eq!(evs[20].json()["item"]["status"], "completed");
    let done = evs[21].json();
    assert_eq!(done["response"]["status"], "completed");
    assert_eq!(done["response"]["output"].as_array().map(Vec::len), Some(3));
    assert_eq!(done["response"]["usage"]["total_tokens"], 42);
    assert_eq!(done["response"]["id"], created["response"]["id"]);
}

#[tokio::test]
async fn length_is_incomplete() {
    let fake = start(r#"{"default":{"text":"cut","finish_reason":"length"}}"#).await;
    let v = post(fake.addr(), "/v1/responses", &[], &req(false))
        .await
        .json();
    assert_eq!(v["status"], "incomplete");
    assert_eq!(
        v["incomplete_details"],
        json!({"reason":"max_output_tokens"})
    );
    let evs = post(fake.addr(), "/v1/responses", &[], &req(true))
        .await
        .sse();
    let last = evs.last().expect("events");
    assert_eq!(last.event.as_deref(), Some("response.incomplete"));
    assert_eq!(
        last.json()["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
}

#[tokio::test]
async fn fail_after_emits_response_failed() {
    let fake = start(
        r#"{"default":{"text":"x y","stream":{"fail_after":3},"error":{"code":"rate_limit_exceeded","message":"try again in 1s"}}}"#,
    )
    .await;
    let evs = post(fake.addr(), "/v1/responses", &[], &req(true))
        .await
        .sse();
    assert_eq!(
        kinds(&evs),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added:message",
            "response.failed"
        ]
    );
    let failed = evs[3].json();
    assert_eq!(failed["response"]["status"], "failed");
    assert_eq!(
        failed["response"]["error"],
        json!({"code":"rate_limit_exceeded","message":"try again in 1s"})
    );
    assert_eq!(failed["response"]["id"], evs[0].json()["response"]["id"]);
}

#[tokio::test]
async fn error_reply_in_openai_shape_and_tool_role_matching() {
    let fake = start(
        r#"{"steps":[{"when":{"last_role":"tool"},"reply":{"text":"saw {{last_tool_result}}"}}],
            "default":{"status":500,"error":{"type":"server_error","message":"nope","code":"boom"}}}"#,
    )
    .await;
    let r = post(fake.addr(), "/v1/responses", &[], &req(false)).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.json(),
        json!({"error":{"message":"nope","type":"server_error","param":null,"code":"boom"}})
    );
    let body = json!({"model":"m","input":[
        {"type":"function_call","call_id":"c1","name":"shell","arguments":"{}"},
        {"type":"function_call_output","call_id":"c1","output":"file.txt"}]});
    let v = post(fake.addr(), "/v1/responses", &[], &body).await.json();
    assert_eq!(v["output"][0]["content"][0]["text"], "saw file.txt");
}

//! OpenAI Chat Completions wire format: non-streaming object, exact chunk
//! sequence, interleaving, usage placement, mid-stream failure and cut.

mod common;

use common::{Sse, post, start};
use serde_json::{Value, json};

const SCRIPT: &str = r#"{"steps":[{"reply":{
    "text":"Hello there, world",
    "reasoning":"think hard",
    "tool_calls":[{"id":"call_1","name":"Bash","arguments":{"command":"ls -la"}}],
    "usage":{"input":50,"output":7,"cached":10},
    "stream":{"text_chunks":3}
}}]}"#;

fn req(stream: bool) -> Value {
    json!({"model":"gpt-test","stream":stream,"messages":[{"role":"user","content":"hi"}]})
}

/// Classifies a chunk for order assertions.
fn kind(ev: &Sse) -> String {
    assert!(ev.event.is_none(), "chat SSE has no event: lines");
    if ev.data == "[DONE]" {
        return "[DONE]".into();
    }
    let v = ev.json();
    if let Some(e) = v.get("error") {
        return format!("error:{}", e["type"].as_str().unwrap_or("?"));
    }
    assert_eq!(v["object"], "chat.completion.chunk");
    assert!(
        v["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("chatcmpl-"))
    );
    assert!(v["created"].is_u64());
    assert_eq!(v["model"], "gpt-test");
    let choices = v["choices"].as_array().expect("choices");
    if choices.is_empty() {
        assert!(v["usage"].is_object());
        return "usage".into();
    }
    let c = &choices[0];
    let d = &c["delta"];
    if let Some(f) = c["finish_reason"].as_str() {
        assert_eq!(d, &json!({}));
        return format!("finish:{f}");
    }
    if d.get("role").is_some() {
        assert_eq!(d, &json!({"role":"assistant","content":""}));
        return "role".into();
    }
    if d.get("reasoning_content").is_some() {
        return "reasoning".into();
    }
    if d.get("content").is_some() {
        return "content".into();
    }
    let tc = &d["tool_calls"][0];
    let i = tc["index"].as_u64().expect("index");
    if tc.get("id").is_some() {
        assert_eq!(tc["type"], "function");
        assert_eq!(tc["function"]["arguments"], "");
        format!("tool_header:{i}")
    } else {
        assert_eq!(
            tc.as_object().map(|o| o.len()),
            Some(2),
            "later fragments carry only index+function: {tc}"
        );
        assert_eq!(tc["function"].as_object().map(|o| o.len()), Some(1));
        format!("tool_args:{i}")
    }
}

fn joined(events: &[Sse], f: impl Fn(&Value) -> Option<String>) -> String {
    events
        .iter()
        .filter(|e| e.data != "[DONE]")
        .filter_map(|e| f(&e.json()))
        .collect()
}

#[tokio::test]
async fn non_streaming_text_and_tool_call() {
    let fake = start(SCRIPT).await;
    let r = post(fake.addr(), "/v1/chat/completions", &[], &req(false)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-test");
    assert!(v["id"].as_str().is_some_and(|s| s.starts_with("chatcmpl-")));
    let c = &v["choices"][0];
    assert_eq!(c["finish_reason"], "tool_calls");
    assert_eq!(c["message"]["role"], "assistant");
    assert_eq!(c["message"]["content"], "Hello there, world");
    assert_eq!(c["message"]["reasoning_content"], "think hard");
    assert_eq!(
        c["message"]["tool_calls"],
        json!([{"id":"call_1","type":"function","function":{"name":"Bash","arguments":"{\"command\":\"ls -la\"}"}}])
    );
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens":50,"completion_tokens":7,"total_tokens":57,
               "prompt_tokens_details":{"cached_tokens":10},"completion_tokens_details":{"reasoning_tokens":2}})
    );
}

#[tokio::test]
async fn non_streaming_tool_only_has_null_content() {
    let fake =
        start(r#"{"default":{"tool_calls":[{"name":"Read","arguments":"{\"path\":\"a\"}"}]}}"#)
            .await;
    let v = post(fake.addr(), "/chat/completions", &[], &req(false))
        .await
        .json();
    let m = &v["choices"][0]["message"];
    assert!(m["content"].is_null());
    assert!(m.get("reasoning_content").is_none());
    assert!(
        m["tool_calls"][0]["id"]
            .as_str()
            .is_some_and(|s| s.starts_with("call_"))
    );
    assert_eq!(
        m["tool_calls"][0]["function"]["arguments"],
        "{\"path\":\"a\"}"
    );
}

#[tokio::test]
async fn streaming_exact_sequence() {
    let fake = start(SCRIPT).await;
    let r = post(fake.addr(), "/v1/chat/completions", &[], &req(true)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(r.complete);
    let evs = r.sse();
    let kinds: Vec<String> = evs.iter().map(kind).collect();
    // text_chunks applies to reasoning too.
    let mut expected = vec!["role".to_string()];
    expected.extend(["reasoning"; 3].map(String::from));
    expected.extend(["content"; 3].map(String::from));
    expected.push("tool_header:0".into());
    expected.extend(["tool_args:0"; 3].map(String::from));
    expected.extend(["finish:tool_calls", "usage", "[DONE]"].map(String::from));
    assert_eq!(kinds, expected);
    assert_eq!(
        joined(&evs, |v| v["choices"][0]["delta"]["content"]
            .as_str()
            .map(String::from)),
        "Hello there, world"
    );
    assert_eq!(
        joined(&evs, |v| v["choices"][0]["delta"]["reasoning_content"]
            .as_str()
            .map(String::from)),
        "think hard"
    );
    let args = joined(&evs, |v| {
        v["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .map(String::from)
    });
    assert_eq!(
        serde_json::from_str::<Value>(&args).expect("args json"),
        json!({"command":"ls -la"})
    );
    let header = evs[7].json();
    assert_eq!(
        header["choices"][0]["delta"]["tool_calls"][0]["id"],
        "call_1"
    );
    assert_eq!(
        header["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "Bash"
    );
    // include_usage semantics: usage:null everywhere but the usage chunk.
    for e in &evs[..evs.len() - 2] {
        assert!(e.json()["usage"].is_null());
    }
    assert_eq!(
        evs[evs.len() - 2].json()["usage"]["prompt_tokens_details"]["cached_tokens"],
        10
    );
    // Each event arrives as its own write (not one buffered blob).
    assert!(
        r.reads.len() > 1,
        "stream arrived in a single read: {:?}",
        r.reads
    );
}

#[tokio::test]
async fn parallel_interleave_and_usage_in_finish_chunk() {
    let fake = start(
        r#"{"default":{"tool_calls":[
            {"id":"a","name":"A","arguments":{"x":1}},
            {"id":"b","name":"B","arguments":{"y":2}}],
            "stream":{"arg_fragments":2,"parallel_interleave":true,"usage_in_finish_chunk":true}}}"#,
    )
    .await;
    let evs = post(fake.addr(), "/v1/chat/completions", &[], &req(true))
        .await
        .sse();
    let kinds: Vec<String> = evs.iter().map(kind).collect();
    assert_eq!(
        kinds,
        [
            "role",
            "tool_header:0",
            "tool_header:1",
            "tool_args:0",
            "tool_args:1",
            "tool_args:0",
            "tool_args:1",
            "finish:tool_calls",
            "[DONE]"
        ]
    );
    let finish = evs[7].json();
    assert!(finish["usage"]["total_tokens"].is_u64());
    assert!(evs[0].json().get("usage").is_none());
    for i in 0..2u64 {
        let args: String = evs
            .iter()
            .filter(|e| e.data != "[DONE]")
            .map(|e| e.json())
            .filter(|v| v["choices"][0]["delta"]["tool_calls"][0]["index"] == i)
            .filter_map(|v| {
                v["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .map(String::from)
            })
            .collect();
        let want = if i == 0 {
            json!({"x":1})
        } else {
            json!({"y":2})
        };
        assert_eq!(serde_json::from_str::<Value>(&args).expect("json"), want);
    }
}

#[tokio::test]
async fn include_usage_false_and_finish_override() {
    let fake = start(
        r#"{"default":{"text":"abc","finish_reason":"length","stream":{"include_usage":false}}}"#,
    )
    .await;
    let evs = post(fake.addr(), "/v1/chat/completions", &[], &req(true))
        .await
        .sse();
    let kinds: Vec<String> = evs.iter().map(kind).collect();
    assert_eq!(kinds, ["role", "content", "finish:length", "[DONE]"]);
    assert!(evs[0].json().get("usage").is_none());
}

#[tokio::test]
async fn fail_after_emits_error_line_without_done() {
    let fake = start(
        r#"{"default":{"text":"one two three four","stream":{"text_chunks":4,"fail_after":3},
            "error":{"type":"server_error","message":"boom"}}}"#,
    )
    .await;
    let r = post(fake.addr(), "/v1/chat/completions", &[], &req(true)).await;
    assert_eq!(r.status, 200);
    let evs = r.sse();
    let kinds: Vec<String> = evs.iter().map(kind).collect();
    assert_eq!(kinds, ["role", "content", "content", "error:server_error"]);
    assert_eq!(evs[3].json()["error"]["message"], "boom");
    assert!(evs[3].json()["error"]["param"].is_null());
}

#[tokio::test]
async fn cut_after_aborts_without_terminator() {
    let fake = start(
        r#"{"default":{"text":"one two three four","stream":{"text_chunks":4,"cut_after":2}}}"#,
    )
    .await;
    let r = post(fake.addr(), "/v1/chat/completions", &[], &req(true)).await;
    assert_eq!(r.status, 200);
    assert!(!r.complete, "cut stream must not have a chunked terminator");
    let kinds: Vec<String> = r.sse().iter().map(kind).collect();
    assert_eq!(kinds, ["role", "content"]);
}

#[tokio::test]
async fn repeat_text_and_chunk_bytes() {
    let fake =
        start(r#"{"default":{"text":"tok ","repeat_text":200,"stream":{"chunk_bytes":7}}}"#).await;
    let r = post(fake.addr(), "/v1/chat/completions", &[], &req(true)).await;
    assert!(r.complete);
    let evs = r.sse();
    let content: Vec<_> = evs.iter().map(kind).filter(|k| k == "content").collect();
    assert_eq!(content.len(), 200);
    assert_eq!(
        joined(&evs, |v| v["choices"][0]["delta"]["content"]
            .as_str()
            .map(String::from)),
        "tok ".repeat(200)
    );
    let v = post(fake.addr(), "/v1/chat/completions", &[], &req(false))
        .await
        .json();
    assert_eq!(v["choices"][0]["message"]["content"], "tok ".repeat(200));
}

#[tokio::test]
async fn bad_json_is_400_in_openai_shape() {
    let fake = start(r#"{"default":{"text":"x"}}"#).await;
    let r = common::send(
        fake.addr(),
        "POST",
        "/v1/chat/completions",
        &[],
        "{not json",
    )
    .await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("JSON"))
    );
    assert_eq!(fake.requests()[0].body, json!("{not json"));
}

//! `/v1/chat/completions` and `/v1/responses` clients, each against upstreams of every protocol.

use crate::common::*;
use protocol::check::rebuild_responses;
use protocol::sse::SseParser;
use serde_json::{Value, json};

impl Running {
    async fn post_bearer(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(MASTER_KEY)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

fn chat_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model, "stream": stream, "max_tokens": 300,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    })
}

/// What Codex sends (agents.md §2), trimmed: instructions, input items, function and custom tools.
fn codex_request(model: &str) -> Value {
    json!({
        "model": model, "instructions": "You are Codex.", "stream": true, "store": false,
        "parallel_tool_calls": true, "tool_choice": "auto", "reasoning": {"summary": "auto"},
        "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List the files."}]}],
        "tools": [
            {"type": "function", "name": "exec_command", "description": "Run a command", "strict": false,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}},
            {"type": "custom", "name": "apply_patch", "description": "Apply a patch",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
            {"type": "web_search"}
        ]
    })
}

fn chat_chunks(bytes: &[u8]) -> Vec<Value> {
    let mut p = SseParser::new();
    let mut ev = Vec::new();
    p.feed(bytes, &mut ev).unwrap();
    p.finish(&mut ev);
    assert_eq!(
        ev.last().map(|e| e.data.as_str()),
        Some("[DONE]"),
        "a Chat stream ends with [DONE]"
    );
    ev[..ev.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect()
}

#[tokio::test]
async fn chat_client_to_anthropic_upstream_with_a_tool_call() {
    let fake = fake(json!({"protocols": ["anthropic"], "default": {
        "tool_calls": [{"id": "toolu_w", "name": "get_weather", "arguments": {"city": "Paris"}}]}}))
    .await;
    let gw = gateway(vec![def("m", "anthropic/claude-x", &fake.base_url())]).await;
    let body: Value = gw
        .post_bearer("/v1/chat/completions", &chat_request("m", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "m");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"city": "Paris"})
    );
    let up = &fake.requests()[0];
    assert_eq!(up.path, "/v1/messages");
    assert_eq!(up.body["system"][0]["text"], "Be brief.");
    assert_eq!(
        up.body["tools"][0]["input_schema"]["required"],
        json!(["city"])
    );

    let resp = gw
        .post_bearer("/v1/chat/completions", &chat_request("m", true))
        .await;
    let chunks = chat_chunks(&resp.bytes().await.unwrap());
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "Paris"})
    );
    assert!(
        chunks.last().unwrap()["usage"]["total_tokens"]
            .as_u64()
            .is_some(),
        "usage chunk when include_usage"
    );
}

#[tokio::test]
async fn chat_client_to_chat_upstream_passes_bytes_through() {
    let fake = fake(json!({"protocols": ["openai-chat"], "default": {"text": "sunny"}})).await;
    let gw = gateway(vec![def(
        "m",
        "groq/llama-x",
        &format!("{}/v1", fake.base_url()),
    )])
    .await;
    let mut req = chat_request("m", false);
    req["metadata"] = json!({"a": 1});
    let body: Value = gw
        .post_bearer("/v1/chat/completions", &req)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "sunny");
    let up = &fake.requests()[0];
    assert_eq!(up.body["model"], "llama-x");
    assert!(
        up.body.get("metadata").is_none(),
        "Groq rejects metadata: dropped even in pass-through"
    );
    assert!(
        up.raw_body
            .contains(r#""tools":[{"type":"function","function":{"name":"get_weather""#)
    );
}

#[tokio::test]
async fn responses_client_to_chat_upstream_streams_a_codex_turn() {
    let fake = fake(json!({"protocols": ["openai-chat"], "default": {
        "tool_calls": [{"id": "call_1", "name": "exec_command", "arguments": {"cmd": "ls"}}],
        "stream": {"arg_fragments": 4}}}))
    .await;
    let gw = gateway(vec![def(
        "codex-m",
        "openai/gpt-x",
        &format!("{}/v1", fake.base_url()),
    )])
    .await;
    let resp = gw
        .post_bearer("/v1/responses", &codex_request("codex-m"))
        .await;
    assert_eq!(resp.status(), 200);
    let dropped = resp.headers()["x-agent-shim-dropped"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(dropped.contains("tools.web_search"), "{dropped}");
    let r = rebuild_responses(&resp.bytes().await.unwrap());
    assert_eq!(r.terminal, "response.completed");
    assert!(r.response["id"].as_str().unwrap().starts_with("resp_"));
    assert!(r.response["usage"]["total_tokens"].as_u64().is_some());
    let call = r
        .items
        .iter()
        .find(|i| i["type"] == "function_call")
        .expect("a function_call item");
    assert_eq!(call["name"], "exec_command");
    assert_eq!(call["call_id"], "call_1");
    assert_eq!(
        serde_json::from_str::<Value>(call["arguments"].as_str().unwrap()).unwrap(),
        json!({"cmd": "ls"})
    );
    let up = &fake.requests()[0].body;
    assert_eq!(
        up["messages"][0],
        json!({"role": "system", "content": "You are Codex."})
    );
    let tools: Vec<&str> = up["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        ["exec_command", "apply_patch"],
        "the custom tool is offered as a function"
    );
}

#[tokio::test]
async fn responses_client_custom_tool_round_trip_through_anthropic_upstream() {
    let fake = fake(json!({"protocols": ["anthropic"], "default": {
        "tool_calls": [{"id": "toolu_p", "name": "apply_patch", "arguments": {"input": "*** Begin Patch\n*** End Patch"}}]}})).await;
    let gw = gateway(vec![def("m", "anthropic/claude-x", &fake.base_url())]).await;
    let r = rebuild_responses(
        &gw.post_bearer("/v1/responses", &codex_request("m"))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    let call = r
        .items
        .iter()
        .find(|i| i["type"] == "custom_tool_call")
        .expect("a custom_tool_call item");
    assert_eq!(call["name"], "apply_patch");
    assert_eq!(
        call["input"], "*** Begin Patch\n*** End Patch",
        "the raw input, unwrapped"
    );
    let up = &fake.requests()[0].body;
    assert_eq!(up["system"][0]["text"], "You are Codex.");
    let patch = up["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "apply_patch")
        .unwrap();
    assert_eq!(
        patch["input_schema"]["properties"]["input"]["type"],
        "string"
    );
}

#[tokio::test]
async fn responses_client_to_responses_upstream_passes_through_even_with_state() {
    let fake = fake(json!({"protocols": ["openai-responses"], "default": {"text": "from the Responses upstream"}})).await;
    let mut d = def("r", "openai/gpt-x", &format!("{}/v1", fake.base_url()));
    d.litellm_params.api_mode = Some(gateway::ApiMode::Responses);
    let gw = gateway(vec![d]).await;
    let mut req = codex_request("r");
    req["previous_response_id"] = json!("resp_earlier");
    let r = rebuild_responses(
        &gw.post_bearer("/v1/responses", &req)
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(r.terminal, "response.completed");
    let up = &fake.requests()[0];
    assert_eq!(up.path, "/v1/responses");
    assert_eq!(up.body["previous_response_id"], "resp_earlier");
    assert_eq!(up.body["model"], "gpt-x");
}

#[tokio::test]
async fn previous_response_id_to_a_stateless_upstream_is_a_clear_error() {
    let fake = fake(json!({"protocols": ["openai-chat"], "default": {"text": "x"}})).await;
    let gw = gateway(vec![def(
        "m",
        "openai/gpt-x",
        &format!("{}/v1", fake.base_url()),
    )])
    .await;
    let mut req = codex_request("m");
    req["previous_response_id"] = json!("resp_earlier");
    let resp = gw.post_bearer("/v1/responses", &req).await;
    assert_eq!(resp.status(), 400);
    let e: Value = resp.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("previous_response_id"),
        "{e}"
    );
    assert!(fake.requests().is_empty(), "nothing was sent upstream");
}

#[tokio::test]
async fn websocket_upgrade_on_responses_is_refused_at_once() {
    let gw = gateway(vec![]).await;
    let started = std::time::Instant::now();
    let resp = gw
        .http
        .get(format!("{}/v1/responses", gw.base))
        .bearer_auth(MASTER_KEY)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 426);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let e: Value = resp.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("supports_websockets = false")
    );
}

#[tokio::test]
async fn openai_clients_get_openai_errors() {
    let gw = gateway(vec![]).await;
    let resp = gw
        .post_bearer("/v1/chat/completions", &chat_request("nope", false))
        .await;
    assert_eq!(resp.status(), 404);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["code"], "model_not_found");
    let resp = gw
        .http
        .post(format!("{}/v1/responses", gw.base))
        .json(&codex_request("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["type"], "authentication_error", "{e}");
}

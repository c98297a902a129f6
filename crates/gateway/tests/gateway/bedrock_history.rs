//! Conversations of several turns through Bedrock: a tool call and its result, through
//! InvokeModel and Converse (whose `toolConfig` the fake requires whenever the history holds
//! tool blocks); and Claude's signed thinking, the system prompt and `cache_control` passed
//! through InvokeModel as the exact bytes, into the answer and back in the next request.

use crate::bedrock::{CLAUDE, KEY_ID, NOVA, accepted, aws_fake, gateway_of, keyed, post, request};
use crate::common::*;
use crate::faults::clients::{Client, answer_text, json_of, sse};
use fake_provider::{BedrockOperation as Op, Reply};
use serde_json::{Value, json};

fn weather_tool_chat() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

fn weather_tool_anthropic() -> Value {
    json!([{"name": "get_weather", "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
}

/// The tool call of a streamed Chat answer: `(id, name, arguments)`.
fn chat_stream_tool_call(body: &[u8]) -> (String, String, Value) {
    let ev = sse(body);
    assert_eq!(ev.last().unwrap().data, "[DONE]");
    let (mut id, mut name, mut args) = (String::new(), String::new(), String::new());
    let mut finish = None;
    for e in &ev[..ev.len() - 1] {
        let v = json_of(e);
        let c = &v["choices"][0];
        if let Some(f) = c["finish_reason"].as_str() {
            finish = Some(f.to_owned());
        }
        let t = &c["delta"]["tool_calls"][0];
        id += t["id"].as_str().unwrap_or_default();
        name += t["function"]["name"].as_str().unwrap_or_default();
        args += t["function"]["arguments"].as_str().unwrap_or_default();
    }
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    (id, name, serde_json::from_str(&args).unwrap())
}

#[tokio::test]
async fn tool_round_trip_through_invoke_for_a_chat_client() {
    let fake = aws_fake()
        .bedrock_times(
            CLAUDE,
            Op::InvokeModelWithResponseStream,
            1,
            Reply::tool_call("get_weather", json!({"city": "Paris"})),
        )
        .bedrock(
            CLAUDE,
            Op::InvokeModelWithResponseStream,
            Reply::text("Sunny: {{last_tool_result}}"),
        )
        .start()
        .await
        .unwrap();
    let gw = gateway_of(vec![keyed("claude", CLAUDE, &fake)], 0).await;
    let mut req = request(Client::Chat, "claude", true);
    req["messages"] = json!([{"role": "user", "content": "Weather in Paris?"}]);
    req["tools"] = weather_tool_chat();
    let body = post(&gw, Client::Chat, &req, &[])
        .await
        .bytes()
        .await
        .unwrap();
    let (id, name, args) = chat_stream_tool_call(&body);
    assert!(id.starts_with("toolu_"), "{id}");
    assert_eq!(
        (name.as_str(), args),
        ("get_weather", json!({"city": "Paris"}))
    );

    let msgs = req["messages"].as_array_mut().unwrap();
    msgs.push(
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": id, "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}),
    );
    msgs.push(json!({"role": "tool", "tool_call_id": id, "content": "22°C"}));
    let resp = post(&gw, Client::Chat, &req, &[]).await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    assert_eq!(answer_text(Client::Chat, true, &body), "Sunny: 22°C");

    let reqs = accepted(&fake, KEY_ID);
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body["tools"][0]["name"], "get_weather");
    let m = &reqs[1].body["messages"];
    assert_eq!(
        m[1]["content"][0],
        json!({"type": "tool_use", "id": id, "name": "get_weather", "input": {"city": "Paris"}})
    );
    assert_eq!(m[2]["content"][0]["type"], "tool_result");
    assert_eq!(m[2]["content"][0]["tool_use_id"], json!(id));
    assert_eq!(reqs[1].body["anthropic_version"], "bedrock-2023-05-31");
}

#[tokio::test]
async fn tool_round_trip_through_converse_for_anthropic_and_chat_clients() {
    for (client, stream) in [(Client::Anthropic, true), (Client::Chat, false)] {
        let op = if stream {
            Op::ConverseStream
        } else {
            Op::Converse
        };
        let fake = aws_fake()
            .bedrock_times(
                NOVA,
                op,
                1,
                Reply::tool_call("get_weather", json!({"city": "Paris"})),
            )
            .bedrock(NOVA, op, Reply::text("Sunny: {{last_tool_result}}"))
            .start()
            .await
            .unwrap();
        let gw = gateway_of(vec![keyed("nova", NOVA, &fake)], 0).await;
        let mut req = request(client, "nova", stream);
        req["messages"] = json!([{"role": "user", "content": "Weather in Paris?"}]);
        let body = if client == Client::Anthropic {
            req["tools"] = weather_tool_anthropic();
            let r = protocol::check::rebuild(
                &post(&gw, client, &req, &[]).await.bytes().await.unwrap(),
            );
            assert_eq!(r.message["stop_reason"], "tool_use");
            let call = r.message["content"][0].clone();
            assert_eq!(call["input"], json!({"city": "Paris"}));
            let id = call["id"].as_str().unwrap().to_owned();
            let msgs = req["messages"].as_array_mut().unwrap();
            msgs.push(json!({"role": "assistant", "content": [call]}));
            msgs.push(json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": id, "content": "22°C"}]}));
            id
        } else {
            req["tools"] = weather_tool_chat();
            let v: Value = post(&gw, client, &req, &[]).await.json().await.unwrap();
            assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{v}");
            let call = v["choices"][0]["message"]["tool_calls"][0].clone();
            let id = call["id"].as_str().unwrap().to_owned();
            let msgs = req["messages"].as_array_mut().unwrap();
            msgs.push(json!({"role": "assistant", "content": null, "tool_calls": [call]}));
            msgs.push(json!({"role": "tool", "tool_call_id": id, "content": "22°C"}));
            id
        };
        let id = body;
        assert!(id.starts_with("tooluse_"), "{client:?}: {id}");
        let resp = post(&gw, client, &req, &[]).await;
        assert_eq!(resp.status(), 200, "{client:?}");
        let text = answer_text(client, stream, &resp.bytes().await.unwrap());
        assert_eq!(text, "Sunny: 22°C", "{client:?}");

        let reqs = accepted(&fake, KEY_ID);
        assert_eq!(reqs.len(), 2, "{client:?}");
        for r in &reqs {
            let spec = &r.body["toolConfig"]["tools"][0]["toolSpec"];
            assert_eq!(spec["name"], "get_weather", "{client:?}: {}", r.body);
            assert_eq!(spec["inputSchema"]["json"]["required"], json!(["city"]));
        }
        let m = &reqs[1].body["messages"];
        assert_eq!(
            m[1]["content"][0]["toolUse"],
            json!({"toolUseId": id, "name": "get_weather", "input": {"city": "Paris"}}),
            "{client:?}"
        );
        assert_eq!(m[2]["content"][0]["toolResult"]["toolUseId"], json!(id));
        assert_eq!(
            m[2]["content"][0]["toolResult"]["content"],
            json!([{"text": "22°C"}])
        );
    }
}

/// Thinking text with everything JSON escapes: quotes, a newline, a tab, non-ASCII.
const THOUGHT: &str = "Weigh it: \"a\" ≠ 'b'\n\tthen é ✓ \\ done";
/// A system prompt written with escapes a re-serialisation would change (`\u00e9`, `\/`).
const SYSTEM_RAW: &str = r#""system":[{"type":"text","text":"You are Claude Code \u00e9 \/ ok","cache_control":{"type":"ephemeral","ttl":"1h"}}]"#;
const FIRST_USER_RAW: &str = r#"{"role":"user","content":[{"type":"text","text":"Think \u00e9.","cache_control":{"type":"ephemeral"}}]}"#;

/// Thinking, its signature, the system prompt and `cache_control` reach the client and go back
/// upstream as the exact bytes (Anthropic verifies signatures; a re-serialised history fails).
#[tokio::test]
async fn thinking_signature_system_and_cache_control_pass_through_invoke_byte_exact() {
    let fake = aws_fake()
        .bedrock_times(
            CLAUDE,
            Op::InvokeModelWithResponseStream,
            1,
            Reply::thinking(THOUGHT, "Done."),
        )
        .bedrock(
            CLAUDE,
            Op::InvokeModelWithResponseStream,
            Reply::text("Next."),
        )
        .start()
        .await
        .unwrap();
    let gw = gateway_of(vec![keyed("claude", CLAUDE, &fake)], 0).await;
    let send = |messages: String| {
        let body = format!(
            r#"{{"model":"claude","max_tokens":2000,"stream":true,"thinking":{{"type":"enabled","budget_tokens":1024}},{SYSTEM_RAW},"messages":[{messages}]}}"#
        );
        let req = gw
            .http
            .post(format!("{}/v1/messages", gw.base))
            .header("x-api-key", MASTER_KEY)
            .header("anthropic-version", "2023-06-01")
            .header("anthropic-beta", "interleaved-thinking-2025-05-14")
            .header("content-type", "application/json")
            .body(body);
        async move { req.send().await.unwrap() }
    };
    let resp = send(FIRST_USER_RAW.to_owned()).await;
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    let r = protocol::check::rebuild(&bytes);
    assert!(r.error.is_none(), "{:?}", r.error);
    let (mut thinking, mut signature) = (String::new(), String::new());
    for e in sse(&bytes).iter().map(json_of) {
        thinking += e["delta"]["thinking"].as_str().unwrap_or_default();
        signature += e["delta"]["signature"].as_str().unwrap_or_default();
    }
    assert_eq!(thinking, THOUGHT);
    assert_eq!(signature, "fake-signature");
    assert_eq!(
        r.message["content"][1],
        json!({"type": "text", "text": "Done."})
    );

    // The history goes back with the block as the client has it, escapes and all.
    let block = format!(
        r#"{{"type":"thinking","thinking":{},"signature":"{signature}"}}"#,
        serde_json::to_string(&thinking)
            .unwrap()
            .replace('é', "\\u00e9")
    );
    let history = format!(
        r#"{FIRST_USER_RAW},{{"role":"assistant","content":[{block},{{"type":"text","text":"Done."}}]}},{{"role":"user","content":"Next?"}}"#
    );
    let resp = send(history).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        answer_text(Client::Anthropic, true, &resp.bytes().await.unwrap()),
        "Next."
    );
    let reqs = accepted(&fake, KEY_ID);
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert!(r.raw_body.contains(SYSTEM_RAW), "{}", r.raw_body);
        assert!(r.raw_body.contains(FIRST_USER_RAW), "{}", r.raw_body);
        assert_eq!(
            r.body["anthropic_beta"],
            json!(["interleaved-thinking-2025-05-14"])
        );
    }
    assert!(reqs[1].raw_body.contains(&block), "{}", reqs[1].raw_body);
    assert_eq!(
        reqs[1].body["messages"][1]["content"][0]["thinking"],
        THOUGHT
    );
}

/// Claude through Converse (`bedrock/converse/…`) for Claude Code: the reasoning and its
/// signature reach the client as a thinking block, and go back in the next request as signed
/// `reasoningContent`, which Claude requires.
#[tokio::test]
async fn signed_reasoning_round_trips_through_converse_for_an_anthropic_client() {
    let fake = aws_fake()
        .bedrock_times(
            CLAUDE,
            Op::ConverseStream,
            1,
            Reply::thinking(THOUGHT, "Done."),
        )
        .bedrock(CLAUDE, Op::ConverseStream, Reply::text("Next."))
        .start()
        .await
        .unwrap();
    // As in LiteLLM, a deployment takes `thinking` when its model_info says it reasons.
    let mut def = keyed("claude", &format!("converse/{CLAUDE}"), &fake);
    def.model_info.supports_reasoning = Some(true);
    let gw = gateway_of(vec![def], 0).await;
    let mut req = request(Client::Anthropic, "claude", true);
    req["max_tokens"] = json!(4000);
    req["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    let r = protocol::check::rebuild(
        &post(&gw, Client::Anthropic, &req, &[])
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    let thinking = r.message["content"][0].clone();
    assert_eq!(
        thinking,
        json!({"type": "thinking", "thinking": THOUGHT, "signature": "fake-signature"})
    );
    let msgs = req["messages"].as_array_mut().unwrap();
    msgs.push(
        json!({"role": "assistant", "content": [thinking, {"type": "text", "text": "Done."}]}),
    );
    msgs.push(json!({"role": "user", "content": "Next?"}));
    let resp = post(&gw, Client::Anthropic, &req, &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        answer_text(Client::Anthropic, true, &resp.bytes().await.unwrap()),
        "Next."
    );
    let reqs = accepted(&fake, KEY_ID);
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].body["additionalModelRequestFields"]["thinking"]["type"], "enabled",
        "{}",
        reqs[0].body
    );
    assert_eq!(
        reqs[1].body["messages"][1]["content"][0],
        json!({"reasoningContent": {"reasoningText": {"text": THOUGHT, "signature": "fake-signature"}}})
    );
    assert_eq!(
        reqs[1].body["messages"][1]["content"][1],
        json!({"text": "Done."})
    );
}

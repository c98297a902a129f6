//! The three client protocols as the fault table drives them: their requests, the upstream
//! each route reaches, and what a complete answer and a failed stream look like in each.

use crate::common::*;
use gateway::ApiMode;
use gateway::ModelDefinition;
use protocol::sse::{SseEvent, SseParser};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Client {
    Anthropic,
    Chat,
    Responses,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Route {
    Pass,
    Translate,
}

impl Client {
    pub fn path(self) -> &'static str {
        match self {
            Client::Anthropic => "/v1/messages",
            Client::Chat => "/v1/chat/completions",
            Client::Responses => "/v1/responses",
        }
    }

    pub fn request(self, model: &str, stream: bool) -> Value {
        match self {
            Client::Anthropic => json!({"model": model, "max_tokens": 100, "stream": stream,
                "messages": [{"role": "user", "content": "hi"}]}),
            Client::Chat => json!({"model": model, "stream": stream,
                "messages": [{"role": "user", "content": "hi"}]}),
            Client::Responses => json!({"model": model, "stream": stream, "input": "hi"}),
        }
    }

    /// The upstream protocol a route of this client reaches.
    pub fn upstream(self, route: Route) -> Client {
        match (self, route) {
            (c, Route::Pass) => c,
            (Client::Anthropic | Client::Responses, Route::Translate) => Client::Chat,
            (Client::Chat, Route::Translate) => Client::Anthropic,
        }
    }
}

/// A model `name` served by the fake at `base` as upstream model `name`, in protocol `up`.
pub fn definition(name: &str, up: Client, base: &str) -> ModelDefinition {
    match up {
        Client::Anthropic => def(name, &format!("anthropic/{name}"), base),
        Client::Chat => def(name, &format!("openai/{name}"), &format!("{base}/v1")),
        Client::Responses => {
            let mut d = def(name, &format!("openai/{name}"), &format!("{base}/v1"));
            d.litellm_params.api_mode = Some(ApiMode::Responses);
            d
        }
    }
}

impl Running {
    pub async fn post_as(&self, client: Client, body: &Value) -> reqwest::Response {
        let req = self.http.post(format!("{}{}", self.base, client.path()));
        let req = match client {
            Client::Anthropic => req
                .header("x-api-key", MASTER_KEY)
                .header("anthropic-version", "2023-06-01"),
            _ => req.bearer_auth(MASTER_KEY),
        };
        req.json(body).send().await.unwrap()
    }
}

pub fn sse(bytes: &[u8]) -> Vec<SseEvent> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    p.feed(bytes, &mut out)
        .expect("events within the parser's bound");
    assert!(
        bytes.ends_with(b"\n\n"),
        "ends at an event boundary: {}",
        String::from_utf8_lossy(bytes)
    );
    out
}

pub fn json_of(ev: &SseEvent) -> Value {
    serde_json::from_str(&ev.data)
        .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {ev:?}"))
}

/// The text of a complete answer, checking it is complete in the client's protocol.
pub fn answer_text(client: Client, stream: bool, body: &[u8]) -> String {
    if !stream {
        let v: Value = serde_json::from_slice(body).unwrap();
        return match client {
            Client::Anthropic => v["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            Client::Chat => v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            Client::Responses => {
                assert_eq!(v["status"], "completed", "{v}");
                v["output"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|o| o["content"].as_array().cloned().unwrap_or_default())
                    .filter_map(|c| c["text"].as_str().map(str::to_owned))
                    .collect()
            }
        };
    }
    let events = sse(body);
    let mut text = String::new();
    match client {
        Client::Anthropic => {
            for e in &events {
                let v = json_of(e);
                if v["type"] == "content_block_delta" {
                    text += v["delta"]["text"].as_str().unwrap_or_default();
                }
            }
            assert_eq!(json_of(events.last().unwrap())["type"], "message_stop");
        }
        Client::Chat => {
            assert_eq!(events.last().unwrap().data, "[DONE]");
            for e in &events[..events.len() - 1] {
                let v = json_of(e);
                text += v["choices"][0]["delta"]["content"]
                    .as_str()
                    .unwrap_or_default();
            }
        }
        Client::Responses => {
            for e in &events {
                let v = json_of(e);
                if v["type"] == "response.output_text.delta" {
                    text += v["delta"].as_str().unwrap();
                }
            }
            assert_eq!(
                json_of(events.last().unwrap())["type"],
                "response.completed"
            );
        }
    }
    text
}

/// The message of a stream's final error event, checking the stream's shape in the client's
/// protocol: events before it, none after, no success.
pub fn stream_error(client: Client, body: &[u8]) -> String {
    let events = sse(body);
    let last = events.last().expect("some events");
    match client {
        Client::Anthropic => {
            assert_eq!(last.event.as_deref(), Some("error"), "{events:?}");
            let v = json_of(last);
            assert_eq!(v["type"], "error");
            let kind = v["error"]["type"].as_str().unwrap();
            assert!(
                matches!(kind, "api_error" | "overloaded_error" | "timeout_error"),
                "{v}"
            );
            assert!(
                events
                    .iter()
                    .all(|e| e.event.as_deref() != Some("message_stop"))
            );
            v["error"]["message"].as_str().unwrap().to_owned()
        }
        Client::Chat => {
            assert!(
                events.iter().all(|e| e.data != "[DONE]"),
                "no [DONE] after a failure"
            );
            let v = json_of(last);
            v["error"]["message"]
                .as_str()
                .unwrap_or_else(|| panic!("error chunk: {v}"))
                .to_owned()
        }
        Client::Responses => {
            let all: Vec<Value> = events.iter().map(json_of).collect();
            let v = all.last().unwrap();
            assert_eq!(v["type"], "response.failed", "{v}");
            assert!(all.iter().all(|e| e["type"] != "response.completed"));
            let ids: Vec<&Value> = all
                .iter()
                .filter_map(|e| e.get("response"))
                .map(|r| &r["id"])
                .collect();
            assert!(
                ids.windows(2).all(|w| w[0] == w[1]),
                "one response id: {ids:?}"
            );
            let seq: Vec<u64> = all
                .iter()
                .map(|e| e["sequence_number"].as_u64().unwrap())
                .collect();
            assert!(
                seq.windows(2).all(|w| w[0] < w[1]),
                "increasing sequence numbers: {seq:?}"
            );
            v["response"]["error"]["message"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    }
}

/// OpenAI's error `type` for an Anthropic one, as the gateway's encoders map them.
pub fn openai_type(anthropic: &str) -> &'static str {
    match anthropic {
        "rate_limit_error" => "rate_limit_error",
        "invalid_request_error" => "invalid_request_error",
        _ => "server_error",
    }
}

//! Translation defects seen on real provider streams (issue 8 §6), each replayed from a fixture in
//! the provider's recorded shape: Mistral's `thinking` content parts, and a Responses upstream's
//! consecutive assistant messages reaching Chat clients.

use crate::pipeline::run;
use bytes::BytesMut;
use protocol::check::{parse_sse, rebuild, rebuild_responses};
use protocol::ir::StreamEvent;
use protocol::stream::ClientEncoder;
use protocol::target::{ResponseContext, ToolNames};
use protocol::{anthropic, openai_chat, openai_responses};
use serde_json::{Value, json};

fn ctx() -> ResponseContext {
    ResponseContext {
        id: "msg_test6".into(),
        model: "client-model".into(),
        created: 1_760_000_000,
        tool_names: ToolNames::default(),
    }
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A recorded Chat upstream stream into a client encoder, the same for whole and 7-byte reads.
fn from_chat(fixture_name: &str, encoder: impl Fn() -> Box<dyn ClientEncoder>) -> BytesMut {
    let bytes = fixture(&format!("chat_stream/{fixture_name}.sse"));
    let mut outs = Vec::new();
    for chunk in [1 << 20, 7] {
        let mut d = openai_chat::StreamDecoder::new(ctx(), 9);
        outs.push(run(&bytes, chunk, &mut d, encoder().as_mut()));
    }
    assert_eq!(outs[0], outs[1], "chunking changed the stream");
    outs.swap_remove(0).1
}

/// A recorded Responses upstream stream into a client encoder, the same for whole and 5-byte reads.
fn from_responses(fixture_name: &str, encoder: impl Fn() -> Box<dyn ClientEncoder>) -> BytesMut {
    let bytes = fixture(&format!("responses_stream/{fixture_name}.sse"));
    let mut outs = Vec::new();
    for chunk in [1 << 20, 5] {
        let mut d = openai_responses::StreamDecoder::new(ctx(), 9);
        outs.push(run(&bytes, chunk, &mut d, encoder().as_mut()));
    }
    assert_eq!(outs[0], outs[1], "chunking changed the stream");
    outs.swap_remove(0).1
}

/// The `content` and `reasoning_content` a Chat client accumulates from a chunk stream (what the
/// OpenAI SDK's stream helper does), and the finish reason.
fn accumulate_chat(out: &[u8]) -> (String, String, String) {
    let (mut content, mut reasoning, mut finish) = (String::new(), String::new(), String::new());
    for ev in parse_sse(out) {
        if ev.data == "[DONE]" {
            continue;
        }
        let v: Value = serde_json::from_str(&ev.data).unwrap();
        assert!(v.get("error").is_none(), "error chunk: {v}");
        let Some(choice) = v["choices"].get(0) else {
            continue;
        };
        if let Some(t) = choice["delta"]["content"].as_str() {
            content.push_str(t);
        }
        if let Some(t) = choice["delta"]["reasoning_content"].as_str() {
            reasoning.push_str(t);
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = f.to_owned();
        }
    }
    (content, reasoning, finish)
}

const MAGISTRAL_THINKING: &str = "Okay, the user asks what 2 + 2 is. Adding 2 and 2 gives 4.";
const MAGISTRAL_ANSWER: &str = "2 + 2 = **4**.";

// ---------------------------------------------------------------------------------------------
// Mistral (Magistral): reasoning as `{"type":"thinking","thinking":[{"type":"text",…}]}` parts of
// `content`; streamed as such parts during thinking, then as plain string fragments.

/// Regression: the thinking parts were dropped; Anthropic clients got only the answer.
#[test]
fn magistral_thinking_parts_stream_to_anthropic_clients_as_thinking() {
    let out = from_chat("magistral_thinking", || {
        Box::new(anthropic::StreamEncoder::new())
    });
    let r = rebuild(&out);
    assert!(r.error.is_none());
    let content = r.message["content"].as_array().unwrap();
    assert_eq!(content.len(), 2, "{content:?}");
    assert_eq!(content[0]["type"], "thinking");
    assert_eq!(content[0]["thinking"], MAGISTRAL_THINKING);
    assert_eq!(content[0]["signature"], anthropic::FOREIGN_SIGNATURE);
    assert_eq!(
        content[1],
        json!({"type": "text", "text": MAGISTRAL_ANSWER})
    );
    assert_eq!(r.message["stop_reason"], "end_turn");
    assert_eq!(r.message["usage"]["output_tokens"], 47);
    // Each thinking part is forwarded as it arrives, not gathered.
    let thinking_deltas = parse_sse(&out)
        .iter()
        .filter(|e| e.data.contains("\"thinking_delta\""))
        .count();
    assert_eq!(thinking_deltas, 3);
}

/// Regression: the thinking parts were dropped; Responses clients got no reasoning item.
#[test]
fn magistral_thinking_parts_stream_to_responses_clients_as_reasoning() {
    let out = from_chat("magistral_thinking", || {
        Box::new(openai_responses::StreamEncoder::new(ctx()))
    });
    let r = rebuild_responses(&out);
    assert_eq!(r.terminal, "response.completed");
    let types: Vec<_> = r.items.iter().map(|i| i["type"].clone()).collect();
    assert_eq!(types, [json!("reasoning"), json!("message")]);
    assert_eq!(r.items[0]["summary"][0]["text"], MAGISTRAL_THINKING);
    assert_eq!(r.items[1]["content"][0]["text"], MAGISTRAL_ANSWER);
}

/// Regression: a non-streamed answer's thinking part was dropped for Anthropic clients.
#[test]
fn magistral_thinking_parts_in_a_response_reach_anthropic_clients_as_thinking() {
    let body = fixture("chat_response/magistral_thinking.json");
    let r = openai_chat::decode_response(&body, &ctx()).unwrap();
    let m: Value = serde_json::from_slice(&anthropic::encode_response(&r)).unwrap();
    assert_eq!(m["content"][0]["type"], "thinking");
    assert_eq!(m["content"][0]["thinking"], MAGISTRAL_THINKING);
    assert_eq!(
        m["content"][1],
        json!({"type": "text", "text": MAGISTRAL_ANSWER})
    );
    assert_eq!(m["content"].as_array().unwrap().len(), 2);
    assert_eq!(m["usage"]["output_tokens"], 47);
}

/// Regression: a non-streamed answer's thinking part was dropped for Responses clients.
#[test]
fn magistral_thinking_parts_in_a_response_reach_responses_clients_as_reasoning() {
    let body = fixture("chat_response/magistral_thinking.json");
    let r = openai_chat::decode_response(&body, &ctx()).unwrap();
    let v: Value = serde_json::from_slice(&openai_responses::encode_response(&r, &ctx())).unwrap();
    let output = v["output"].as_array().unwrap();
    assert_eq!(output.len(), 2, "{output:?}");
    assert_eq!(output[0]["type"], "reasoning");
    assert_eq!(output[0]["summary"][0]["text"], MAGISTRAL_THINKING);
    assert_eq!(output[1]["type"], "message");
    assert_eq!(output[1]["content"][0]["text"], MAGISTRAL_ANSWER);
}

/// The other spellings Mistral-compatible servers use: `thinking` as a plain string, a reference
/// chunk inside it (no text: nothing to forward), a `text` part after it, in one delta.
#[test]
fn thinking_parts_of_every_shape_keep_their_order() {
    let chunk = json!({"choices": [{"index": 0, "delta": {"content": [
        {"type": "thinking", "thinking": "first. "},
        {"type": "thinking", "thinking": [{"type": "reference", "reference_ids": [1]},
                                          {"type": "text", "text": "second."}], "closed": true},
        {"type": "text", "text": "Answer"},
    ]}, "finish_reason": "stop"}]});
    let mut d = openai_chat::StreamDecoder::new(ctx(), 0);
    let mut events = Vec::new();
    d.on_chunk(serde_json::from_value(chunk).unwrap(), &mut events);
    d.on_end(&mut events);
    let mut enc = anthropic::StreamEncoder::new();
    let mut out = BytesMut::new();
    for ev in &events {
        enc.encode(ev, &mut out);
    }
    let m = rebuild(&out).message;
    assert_eq!(m["content"][0]["thinking"], "first. second.");
    assert_eq!(m["content"][1]["text"], "Answer");
}

// ---------------------------------------------------------------------------------------------
// A Responses upstream's consecutive assistant messages (`phase: commentary`, then
// `phase: final_answer`) into the single `content` string of a Chat answer.

const COMMENTARY: &str = "I read the config first.";
const FINAL_ANSWER: &str = "The port is 4444.";

/// Regression: the two messages reached Chat clients as "…first.The port…".
#[test]
fn responses_commentary_and_final_answer_stream_to_chat_clients_with_a_blank_line() {
    let out = from_responses("commentary_then_final_answer", || {
        Box::new(openai_chat::StreamEncoder::new(ctx(), false))
    });
    let (content, reasoning, finish) = accumulate_chat(&out);
    assert_eq!(content, format!("{COMMENTARY}\n\n{FINAL_ANSWER}"));
    assert_eq!(reasoning, "");
    assert_eq!(finish, "stop");
}

/// Regression: the same, for a non-streamed answer.
#[test]
fn responses_commentary_and_final_answer_reach_chat_clients_with_a_blank_line() {
    let body = fixture("responses_response/commentary_then_final_answer.json");
    let r = openai_responses::decode_response(&body, &ctx()).unwrap();
    let v: Value = serde_json::from_slice(&openai_chat::encode_response(&r, &ctx())).unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        format!("{COMMENTARY}\n\n{FINAL_ANSWER}")
    );
}

/// Clients with one block per message keep them apart without a separator in the text.
#[test]
fn responses_commentary_and_final_answer_stay_separate_blocks_for_anthropic_clients() {
    let out = from_responses("commentary_then_final_answer", || {
        Box::new(anthropic::StreamEncoder::new())
    });
    assert_eq!(
        rebuild(&out).message["content"],
        json!([{"type": "text", "text": COMMENTARY}, {"type": "text", "text": FINAL_ANSWER}])
    );
}

/// The separator goes only between blocks that both carry text: reasoning blocks are joined the
/// same way, and a block without text adds nothing.
#[test]
fn chat_clients_get_one_blank_line_between_blocks_and_none_around_empty_ones() {
    use protocol::ir::{BlockStart, Delta};
    let mut events = vec![StreamEvent::MessageStart {
        id: "x".into(),
        model: "m".into(),
        usage: Default::default(),
    }];
    let mut block = |index: usize, start: BlockStart, delta: Option<Delta>| {
        events.push(StreamEvent::BlockStart {
            index,
            block: start,
        });
        if let Some(delta) = delta {
            events.push(StreamEvent::Delta { index, delta });
        }
        events.push(StreamEvent::BlockStop { index });
    };
    block(
        0,
        BlockStart::Reasoning,
        Some(Delta::Reasoning("r1".into())),
    );
    block(1, BlockStart::Text, Some(Delta::Text("a".into())));
    block(2, BlockStart::Text, None);
    block(
        3,
        BlockStart::Reasoning,
        Some(Delta::Reasoning("r2".into())),
    );
    block(4, BlockStart::Text, Some(Delta::Text(String::new())));
    block(5, BlockStart::Text, Some(Delta::Text("b".into())));
    events.push(StreamEvent::Finish {
        stop_reason: protocol::ir::StopReason::EndTurn,
        usage: Default::default(),
    });
    let mut enc = openai_chat::StreamEncoder::new(ctx(), false);
    let mut out = BytesMut::new();
    for ev in &events {
        enc.encode(ev, &mut out);
    }
    let (content, reasoning, _) = accumulate_chat(&out);
    assert_eq!(content, "a\n\nb");
    assert_eq!(reasoning, "r1\n\nr2");
}

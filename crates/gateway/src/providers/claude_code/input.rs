//! What the CLI is given for an Anthropic Messages request: the system prompt (a flag) and one
//! stream-json user message for stdin — the new user turn alone when a session continues the
//! conversation, or with the earlier turns flattened into labelled context when a new session
//! starts mid-conversation. Text and images stay content blocks. Also the conversation's digest,
//! which keys sessions ([`super::session`]).

use serde_json::{Value, json};
use std::hash::Hasher;

/// A request, read for the CLI.
#[derive(Debug)]
pub struct Conversation {
    /// `--system-prompt` (empty when the request has none).
    pub system: String,
    messages: Vec<Value>,
    /// Index of the last user message: the new turn.
    last_user: usize,
}

/// Why a request cannot go through the CLI.
#[derive(Debug, PartialEq)]
pub enum Refused {
    Tools,
    Malformed(String),
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| match b["type"].as_str() {
                Some("text") => b["text"].as_str().map(str::to_owned),
                Some("image") => Some("[image]".to_owned()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Feeds one turn into a digest: its role, its text (all text blocks concatenated, trimmed:
/// what a client echoes back of an answer) and its images. Thinking and other blocks are left
/// out, as clients drop them differently.
pub fn feed_turn<H: Hasher>(h: &mut H, role: &str, content: &Value) {
    h.write(role.as_bytes());
    h.write_u8(0);
    let mut text = String::new();
    match content {
        Value::String(s) => text.push_str(s),
        Value::Array(blocks) => {
            for b in blocks {
                match b["type"].as_str() {
                    Some("text") => text.push_str(b["text"].as_str().unwrap_or_default()),
                    Some("image") => h.write(b["source"].to_string().as_bytes()),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    h.write(text.trim().as_bytes());
    h.write_u8(0xff);
}

impl Conversation {
    /// Reads `body`, an encoded Anthropic Messages request. Requests with tools are refused.
    pub fn parse(body: &[u8]) -> Result<Conversation, Refused> {
        let mut req: Value = serde_json::from_slice(body)
            .map_err(|e| Refused::Malformed(format!("the request body is not JSON: {e}")))?;
        if req["tools"].as_array().is_some_and(|t| !t.is_empty()) {
            return Err(Refused::Tools);
        }
        let system = text_of(&req["system"]);
        let Value::Array(messages) = req["messages"].take() else {
            return Err(Refused::Malformed("the request has no messages".into()));
        };
        let last_user = messages
            .iter()
            .rposition(|m| m["role"] == "user")
            .ok_or_else(|| Refused::Malformed("the request has no user message".into()))?;
        Ok(Conversation {
            system,
            messages,
            last_user,
        })
    }

    /// How many messages come before the new user turn.
    pub fn earlier(&self) -> usize {
        self.last_user
    }

    /// Whether the request ends with assistant text to continue (a prefill), which a session
    /// cannot carry: such requests run without one.
    pub fn has_prefill(&self) -> bool {
        self.last_user + 1 < self.messages.len()
    }

    /// Feeds the system prompt and the first `n` messages into a digest.
    pub fn feed<H: Hasher>(&self, h: &mut H, n: usize) {
        h.write(self.system.as_bytes());
        h.write_u8(0xfe);
        for m in &self.messages[..n.min(self.messages.len())] {
            feed_turn(h, m["role"].as_str().unwrap_or("user"), &m["content"]);
        }
    }

    /// The new user turn's content blocks.
    fn new_turn_blocks(&self, blocks: &mut Vec<Value>) {
        match &self.messages[self.last_user]["content"] {
            Value::String(s) => blocks.push(json!({"type": "text", "text": s})),
            Value::Array(parts) => {
                for p in parts {
                    match p["type"].as_str() {
                        Some("text") => blocks.push(json!({"type": "text", "text": p["text"]})),
                        Some("image") => {
                            blocks.push(json!({"type": "image", "source": p["source"]}))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// The stdin line for a session that already holds the earlier turns: the new turn only.
    pub fn new_turn(&self) -> Vec<u8> {
        let mut blocks = Vec::new();
        self.new_turn_blocks(&mut blocks);
        line(blocks)
    }

    /// The stdin line for a new session: the earlier turns (if any) as labelled context, the new
    /// turn, and a trailing assistant prefill as an instruction.
    pub fn with_context(&self) -> Vec<u8> {
        let mut blocks = Vec::new();
        if self.last_user > 0 {
            let mut context = String::from(
                "The conversation so far (earlier turns, given as context):\n<conversation>\n",
            );
            for m in &self.messages[..self.last_user] {
                let role = m["role"].as_str().unwrap_or("user");
                context.push_str(&format!(
                    "<{role}>\n{}\n</{role}>\n",
                    text_of(&m["content"])
                ));
            }
            context.push_str("</conversation>\nThe user's new message follows.");
            blocks.push(json!({"type": "text", "text": context}));
        }
        self.new_turn_blocks(&mut blocks);
        // A trailing assistant turn (a prefill) cannot be continued by the CLI: it is context.
        if self.has_prefill() {
            let after = &self.messages[self.last_user + 1..];
            let prefill: Vec<String> = after.iter().map(|m| text_of(&m["content"])).collect();
            blocks.push(json!({"type": "text",
                "text": format!("(Begin your answer with: {})", prefill.join("\n"))}));
        }
        line(blocks)
    }
}

/// One stream-json user message, newline-terminated.
fn line(blocks: Vec<Value>) -> Vec<u8> {
    let line = json!({"type": "user", "message": {"role": "user", "content": blocks}});
    let mut stdin = line.to_string().into_bytes();
    stdin.push(b'\n');
    stdin
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, RandomState};

    fn conv(body: Value) -> Conversation {
        Conversation::parse(body.to_string().as_bytes()).unwrap()
    }

    fn content(stdin: &[u8]) -> Value {
        let v: Value = serde_json::from_slice(stdin).unwrap();
        assert_eq!(v["type"], "user");
        assert!(stdin.ends_with(b"\n"));
        v["message"]["content"].clone()
    }

    #[test]
    fn one_turn_is_its_blocks_and_the_system_prompt_a_flag() {
        let c = conv(json!({"model": "sonnet", "max_tokens": 5,
            "system": [{"type": "text", "text": "Be brief."}],
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]}]}));
        assert_eq!(c.system, "Be brief.");
        assert_eq!(c.earlier(), 0);
        for stdin in [c.new_turn(), c.with_context()] {
            let blocks = content(&stdin);
            assert_eq!(blocks[0]["text"], "what is this?");
            assert_eq!(blocks[1]["source"]["data"], "AAAA");
        }
    }

    #[test]
    fn earlier_turns_are_labelled_context_for_a_new_session_only() {
        let c = conv(json!({"messages": [
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello Ada."}]},
            {"role": "user", "content": "What is my name?"}]}));
        assert_eq!(c.system, "");
        assert_eq!(c.earlier(), 2);
        let blocks = content(&c.with_context());
        let ctx = blocks[0]["text"].as_str().unwrap();
        assert!(ctx.contains("<user>\nMy name is Ada.\n</user>"), "{ctx}");
        assert!(
            ctx.contains("<assistant>\nHello Ada.\n</assistant>"),
            "{ctx}"
        );
        assert_eq!(blocks[1]["text"], "What is my name?");
        let only = content(&c.new_turn());
        assert_eq!(only, json!([{"type": "text", "text": "What is my name?"}]));
    }

    #[test]
    fn the_digest_of_a_turn_and_its_answer_matches_the_next_requests_history() {
        let s = RandomState::new();
        let first = conv(json!({"system": "Be brief.", "messages": [
            {"role": "user", "content": "My name is Ada."}]}));
        let mut after_first = s.build_hasher();
        first.feed(&mut after_first, first.earlier() + 1);
        // What the run answered, as the harness saw it.
        feed_turn(&mut after_first, "assistant", &json!("Hello Ada."));
        // The client sends it back as blocks, with thinking and surrounding space.
        let second = conv(
            json!({"system": [{"type": "text", "text": "Be brief."}], "messages": [
            {"role": "user", "content": [{"type": "text", "text": "My name is Ada."}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "greet", "signature": "s"},
                {"type": "text", "text": "Hello "}, {"type": "text", "text": "Ada.\n"}]},
            {"role": "user", "content": "What is my name?"}]}),
        );
        let mut prefix = s.build_hasher();
        second.feed(&mut prefix, second.earlier());
        assert_eq!(after_first.finish(), prefix.finish());
        // An edited answer, another system prompt or another user turn is another conversation.
        let edited = conv(json!({"system": "Be brief.", "messages": [
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Hello Bob."},
            {"role": "user", "content": "What is my name?"}]}));
        let mut e = s.build_hasher();
        edited.feed(&mut e, edited.earlier());
        assert_ne!(e.finish(), prefix.finish());
    }

    #[test]
    fn a_prefill_is_an_instruction_and_keeps_the_request_out_of_sessions() {
        let c = conv(json!({"messages": [
            {"role": "user", "content": "Count."},
            {"role": "assistant", "content": "1, 2,"}]}));
        assert!(c.has_prefill());
        let blocks = content(&c.with_context());
        assert_eq!(blocks[1]["text"], "(Begin your answer with: 1, 2,)");
    }

    #[test]
    fn tools_are_refused() {
        let body = json!({"messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "x", "input_schema": {"type": "object"}}]});
        assert_eq!(
            Conversation::parse(body.to_string().as_bytes()).unwrap_err(),
            Refused::Tools
        );
    }
}

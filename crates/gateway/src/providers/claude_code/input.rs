//! What the CLI is given for an Anthropic Messages request: the system prompt (a flag) and one
//! stream-json user message for stdin. Earlier turns are flattened into that message's text as
//! labelled context; the last user turn's text and images stay content blocks.

use serde_json::{Value, json};

/// The request as the CLI takes it.
#[derive(Debug, PartialEq)]
pub struct CliInput {
    /// `--system-prompt` (empty when the request has none).
    pub system: String,
    /// The stdin line, newline-terminated.
    pub stdin: Vec<u8>,
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

/// The CLI input for `body`, an encoded Anthropic Messages request.
pub fn cli_input(body: &[u8]) -> Result<CliInput, Refused> {
    let req: Value = serde_json::from_slice(body)
        .map_err(|e| Refused::Malformed(format!("the request body is not JSON: {e}")))?;
    if req["tools"].as_array().is_some_and(|t| !t.is_empty()) {
        return Err(Refused::Tools);
    }
    let system = text_of(&req["system"]);
    let messages = req["messages"]
        .as_array()
        .ok_or_else(|| Refused::Malformed("the request has no messages".into()))?;
    let last_user = messages
        .iter()
        .rposition(|m| m["role"] == "user")
        .ok_or_else(|| Refused::Malformed("the request has no user message".into()))?;
    let mut blocks = Vec::new();
    if last_user > 0 || last_user + 1 < messages.len() {
        let mut context = String::from(
            "The conversation so far (earlier turns, given as context):\n<conversation>\n",
        );
        for m in &messages[..last_user] {
            let role = m["role"].as_str().unwrap_or("user");
            context.push_str(&format!(
                "<{role}>\n{}\n</{role}>\n",
                text_of(&m["content"])
            ));
        }
        context.push_str("</conversation>\nThe user's new message follows.");
        blocks.push(json!({"type": "text", "text": context}));
    }
    match &messages[last_user]["content"] {
        Value::String(s) => blocks.push(json!({"type": "text", "text": s})),
        Value::Array(parts) => {
            for p in parts {
                match p["type"].as_str() {
                    Some("text") => blocks.push(json!({"type": "text", "text": p["text"]})),
                    Some("image") => blocks.push(json!({"type": "image", "source": p["source"]})),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    // A trailing assistant turn (a prefill) cannot be continued by the CLI: it is context.
    if let Some(after) = messages.get(last_user + 1..).filter(|a| !a.is_empty()) {
        let prefill: Vec<String> = after.iter().map(|m| text_of(&m["content"])).collect();
        blocks.push(json!({"type": "text",
            "text": format!("(Begin your answer with: {})", prefill.join("\n"))}));
    }
    let line = json!({"type": "user", "message": {"role": "user", "content": blocks}});
    let mut stdin = line.to_string().into_bytes();
    stdin.push(b'\n');
    Ok(CliInput { system, stdin })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(i: &CliInput) -> Value {
        let v: Value = serde_json::from_slice(&i.stdin).unwrap();
        assert_eq!(v["type"], "user");
        v["message"]["content"].clone()
    }

    #[test]
    fn one_turn_is_its_blocks_and_the_system_prompt_a_flag() {
        let body = json!({"model": "sonnet", "max_tokens": 5,
            "system": [{"type": "text", "text": "Be brief."}],
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]}]});
        let i = cli_input(body.to_string().as_bytes()).unwrap();
        assert_eq!(i.system, "Be brief.");
        let c = content(&i);
        assert_eq!(c[0]["text"], "what is this?");
        assert_eq!(c[1]["source"]["data"], "AAAA");
        assert!(i.stdin.ends_with(b"\n"));
    }

    #[test]
    fn earlier_turns_are_labelled_context() {
        let body = json!({"messages": [
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello Ada."}]},
            {"role": "user", "content": "What is my name?"}]});
        let i = cli_input(body.to_string().as_bytes()).unwrap();
        assert_eq!(i.system, "");
        let c = content(&i);
        let ctx = c[0]["text"].as_str().unwrap();
        assert!(ctx.contains("<user>\nMy name is Ada.\n</user>"), "{ctx}");
        assert!(
            ctx.contains("<assistant>\nHello Ada.\n</assistant>"),
            "{ctx}"
        );
        assert_eq!(c[1]["text"], "What is my name?");
    }

    #[test]
    fn tools_are_refused() {
        let body = json!({"messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "x", "input_schema": {"type": "object"}}]});
        assert_eq!(cli_input(body.to_string().as_bytes()), Err(Refused::Tools));
    }
}

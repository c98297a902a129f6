//! Reads the facts a script can match on out of a parsed request body,
//! normalised across the protocols (model, stream flag, tools, last
//! role, last tool result).

use serde_json::Value;

use crate::bedrock::config::BedrockOperation;
use crate::script::Protocol;

/// The matchable view of one API request.
#[derive(Debug)]
pub(crate) struct RequestView<'a> {
    pub protocol: Protocol,
    pub path: &'a str,
    /// Raw body text (lossy UTF-8).
    pub raw: &'a str,
    pub body: &'a Value,
    pub model: &'a str,
    pub stream: bool,
    pub has_tools: bool,
    pub last_role: Option<&'a str>,
    /// Bedrock only: the operation (set by the router, as are `model` and `stream`, which
    /// Bedrock takes from the path).
    pub operation: Option<BedrockOperation>,
}

impl<'a> RequestView<'a> {
    /// Builds the view; `body` should be a JSON object (anything else yields
    /// empty facts).
    pub fn new(protocol: Protocol, path: &'a str, raw: &'a str, body: &'a Value) -> Self {
        RequestView {
            protocol,
            path,
            raw,
            body,
            model: body.get("model").and_then(Value::as_str).unwrap_or(""),
            stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
            has_tools: tools(protocol, body)
                .and_then(Value::as_array)
                .is_some_and(|t| !t.is_empty()),
            last_role: last_role(protocol, body),
            operation: None,
        }
    }

    /// Text of the last tool result in the request ("" if none).
    pub fn last_tool_result(&self) -> String {
        last_tool_result(self.protocol, self.body).unwrap_or_default()
    }
}

/// The request's tool list (Converse keeps it in `toolConfig.tools`).
fn tools(protocol: Protocol, body: &Value) -> Option<&Value> {
    match protocol {
        Protocol::BedrockConverse => body.get("toolConfig")?.get("tools"),
        _ => body.get("tools"),
    }
}

fn last_role(protocol: Protocol, body: &Value) -> Option<&str> {
    match protocol {
        Protocol::BedrockConverse => {
            let last = body.get("messages")?.as_array()?.last()?;
            let role = last.get("role")?.as_str()?;
            let has_result = last
                .get("content")
                .and_then(Value::as_array)
                .is_some_and(|blocks| blocks.iter().any(|b| b.get("toolResult").is_some()));
            if role == "user" && has_result {
                Some("tool")
            } else {
                Some(role)
            }
        }
        Protocol::OpenaiChat => {
            let last = body.get("messages")?.as_array()?.last()?;
            match last.get("role")?.as_str()? {
                "tool" | "function" => Some("tool"),
                other => Some(other),
            }
        }
        Protocol::Anthropic | Protocol::BedrockInvoke => {
            let last = body.get("messages")?.as_array()?.last()?;
            let role = last.get("role")?.as_str()?;
            let has_result = last
                .get("content")
                .and_then(Value::as_array)
                .is_some_and(|blocks| blocks.iter().any(|b| block_type(b) == "tool_result"));
            if role == "user" && has_result {
                Some("tool")
            } else {
                Some(role)
            }
        }
        Protocol::OpenaiResponses => match body.get("input")? {
            Value::String(_) => Some("user"),
            Value::Array(items) => {
                let last = items.last()?;
                match last.get("type").and_then(Value::as_str) {
                    Some("function_call_output" | "custom_tool_call_output") => Some("tool"),
                    Some("message") | None => last.get("role")?.as_str(),
                    Some(_) => Some("assistant"),
                }
            }
            _ => None,
        },
    }
}

fn block_type(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

/// Joins the `text` of the parts whose type is in `types` (or untyped).
fn join_texts(parts: &[Value], types: &[&str]) -> String {
    let texts: Vec<&str> = parts
        .iter()
        .filter(|p| {
            let t = block_type(p);
            t.is_empty() || types.contains(&t)
        })
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    texts.join("\n")
}

fn content_text(content: &Value, types: &[&str]) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => join_texts(parts, types),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn last_tool_result(protocol: Protocol, body: &Value) -> Option<String> {
    match protocol {
        Protocol::OpenaiChat => {
            let msgs = body.get("messages")?.as_array()?;
            let m = msgs.iter().rev().find(|m| {
                matches!(
                    m.get("role").and_then(Value::as_str),
                    Some("tool" | "function")
                )
            })?;
            Some(content_text(m.get("content")?, &["text"]))
        }
        Protocol::BedrockConverse => {
            let msgs = body.get("messages")?.as_array()?;
            let result = msgs
                .iter()
                .rev()
                .filter_map(|m| m.get("content").and_then(Value::as_array))
                .find_map(|blocks| blocks.iter().rev().find_map(|b| b.get("toolResult")))?;
            let parts = result.get("content").and_then(Value::as_array)?;
            let texts: Vec<String> = parts
                .iter()
                .filter_map(|p| match (p.get("text"), p.get("json")) {
                    (Some(Value::String(t)), _) => Some(t.clone()),
                    (_, Some(j)) => Some(j.to_string()),
                    _ => None,
                })
                .collect();
            Some(texts.join("\n"))
        }
        Protocol::Anthropic | Protocol::BedrockInvoke => {
            let msgs = body.get("messages")?.as_array()?;
            let block = msgs
                .iter()
                .rev()
                .filter_map(|m| m.get("content").and_then(Value::as_array))
                .find_map(|blocks| blocks.iter().rev().find(|b| block_type(b) == "tool_result"))?;
            Some(
                block
                    .get("content")
                    .map_or_else(String::new, |c| content_text(c, &["text"])),
            )
        }
        Protocol::OpenaiResponses => {
            let items = body.get("input")?.as_array()?;
            let item = items.iter().rev().find(|i| {
                matches!(
                    block_type(i),
                    "function_call_output" | "custom_tool_call_output"
                )
            })?;
            Some(content_text(
                item.get("output")?,
                &["input_text", "output_text", "text"],
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(p: Protocol, body: &Value) -> (Option<String>, String) {
        let v = RequestView::new(p, "/x", "", body);
        (v.last_role.map(str::to_string), v.last_tool_result())
    }

    #[test]
    fn chat_roles_and_results() {
        let body = json!({"model":"m","stream":true,"tools":[{"type":"function"}],"messages":[
            {"role":"user","content":"hi"},
            {"role":"assistant","content":null,"tool_calls":[]},
            {"role":"tool","tool_call_id":"c","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}
        ]});
        let v = RequestView::new(Protocol::OpenaiChat, "/x", "", &body);
        assert_eq!(v.model, "m");
        assert!(v.stream);
        assert!(v.has_tools);
        assert_eq!(
            view(Protocol::OpenaiChat, &body),
            (Some("tool".into()), "a\nb".into())
        );
        let body = json!({"messages":[{"role":"tool","content":"out"},{"role":"user","content":"next"}],"tools":[]});
        let v = RequestView::new(Protocol::OpenaiChat, "/x", "", &body);
        assert!(!v.has_tools);
        assert!(!v.stream);
        assert_eq!(
            view(Protocol::OpenaiChat, &body),
            (Some("user".into()), "out".into())
        );
    }

    #[test]
    fn anthropic_roles_and_results() {
        let body = json!({"messages":[
            {"role":"user","content":"hi"},
            {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"Bash","input":{}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"x"},{"type":"image"},{"type":"text","text":"y"}]}]}
        ]});
        assert_eq!(
            view(Protocol::Anthropic, &body),
            (Some("tool".into()), "x\ny".into())
        );
        let body = json!({"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"plain"}]},{"role":"assistant","content":"ok"}]});
        assert_eq!(
            view(Protocol::Anthropic, &body),
            (Some("assistant".into()), "plain".into())
        );
        let body = json!({"messages":[{"role":"user","content":[{"type":"text","text":"q"}]}]});
        assert_eq!(
            view(Protocol::Anthropic, &body),
            (Some("user".into()), String::new())
        );
    }

    #[test]
    fn responses_roles_and_results() {
        let body = json!({"input":"hello"});
        assert_eq!(
            view(Protocol::OpenaiResponses, &body),
            (Some("user".into()), String::new())
        );
        let body = json!({"input":[
            {"type":"message","role":"user","content":[{"type":"input_text","text":"q"}]},
            {"type":"function_call","call_id":"c","name":"f","arguments":"{}"},
            {"type":"function_call_output","call_id":"c","output":"result text"}
        ]});
        assert_eq!(
            view(Protocol::OpenaiResponses, &body),
            (Some("tool".into()), "result text".into())
        );
        let body = json!({"input":[
            {"type":"custom_tool_call_output","call_id":"c","output":[{"type":"input_text","text":"p"},{"type":"input_image"}]},
            {"type":"function_call","call_id":"d","name":"f","arguments":"{}"}
        ]});
        assert_eq!(
            view(Protocol::OpenaiResponses, &body),
            (Some("assistant".into()), "p".into())
        );
        let body = json!({"input":[{"role":"user","content":"untyped"}]});
        assert_eq!(
            view(Protocol::OpenaiResponses, &body).0.as_deref(),
            Some("user")
        );
    }

    #[test]
    fn converse_roles_tools_and_results() {
        let body = json!({"toolConfig": {"tools": [{"toolSpec": {"name": "w"}}]}, "messages": [
            {"role": "user", "content": [{"text": "q"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "w", "input": {}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t",
                "content": [{"text": "sunny"}, {"json": {"c": 21}}]}}]}
        ]});
        let v = RequestView::new(Protocol::BedrockConverse, "/x", "", &body);
        assert!(v.has_tools);
        assert_eq!(
            view(Protocol::BedrockConverse, &body),
            (Some("tool".into()), "sunny\n{\"c\":21}".into())
        );
        let invoke = json!({"messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": "out"}]}]});
        assert_eq!(
            view(Protocol::BedrockInvoke, &invoke),
            (Some("tool".into()), "out".into())
        );
    }

    #[test]
    fn garbage_bodies_yield_empty_facts() {
        for body in [
            json!(null),
            json!([1, 2]),
            json!({"messages": 3, "input": {}, "model": 7}),
        ] {
            for p in Protocol::all() {
                let v = RequestView::new(p, "/x", "", &body);
                assert_eq!(v.model, "");
                assert_eq!(v.last_role, None);
                assert_eq!(v.last_tool_result(), "");
            }
        }
    }
}

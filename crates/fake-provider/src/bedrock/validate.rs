//! What real Bedrock checks in a Converse request and gateways get wrong, each answered with
//! 400 `ValidationException` in Bedrock's words (messages as the service returns them; the
//! `1 validation error detected: …` ones are its request-schema layer, whose member paths
//! count from 1, the others count messages from 0):
//!
//! - `messages` missing or empty, or not starting with a user turn;
//! - a role other than `user` / `assistant`; roles not alternating;
//! - `content: null` or missing; `content: []`; a blank `text` block;
//! - `toolUse` / `toolResult` blocks anywhere in the history without `toolConfig`
//!   ("The toolConfig field must be defined when using toolUse and toolResult content
//!   blocks."); `toolConfig.tools` empty; a tool name outside `[a-zA-Z0-9_-]+`;
//! - a user turn after an assistant turn with `toolUse` blocks whose `toolResult` ids do not
//!   answer them exactly;
//! - a `reasoningContent.reasoningText` replayed without its `signature` (Claude rejects
//!   unsigned thinking; Bedrock passes the model's error through).

use std::collections::BTreeSet;

use serde_json::Value;

const START_WITH_USER: &str = "A conversation must start with a user message. Try again with a \
conversation that starts with a user message.";
const ALTERNATE: &str = "A conversation must alternate between user and assistant roles. Make \
sure the conversation alternates between user and assistant roles and try again.";
/// The message when the history has tool blocks and the request no `toolConfig`.
pub const TOOL_CONFIG_REQUIRED: &str =
    "The toolConfig field must be defined when using toolUse and toolResult content blocks.";

fn schema_error(value: &str, path: &str, constraint: &str) -> String {
    format!(
        "1 validation error detected: Value {value} at '{path}' failed to satisfy constraint: \
         {constraint}"
    )
}

/// The ids of the blocks of `kind` (`toolUse` / `toolResult`) in `content`.
fn tool_ids(content: &[Value], kind: &str) -> Vec<String> {
    content
        .iter()
        .filter_map(|b| b.get(kind))
        .map(|t| {
            t.get("toolUseId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// Checks a Converse / ConverseStream body; `Err` is the `ValidationException` message.
pub(crate) fn converse(body: &Value) -> Result<(), String> {
    let Some(obj) = body.as_object() else {
        return Err("Malformed input request, please reformat your input and try again.".into());
    };
    let has_tool_config = match obj.get("toolConfig") {
        None | Some(Value::Null) => false,
        Some(cfg) => {
            check_tool_config(cfg)?;
            true
        }
    };
    let messages = match obj.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        _ => return Err(START_WITH_USER.into()),
    };
    let mut prev_role: Option<&str> = None;
    let mut pending_tool_uses: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str);
        let role = match role {
            Some(r @ ("user" | "assistant")) => r,
            Some(other) => {
                return Err(schema_error(
                    &format!("'{other}'"),
                    &format!("messages.{}.member.role", i + 1),
                    "Member must satisfy enum value set: [user, assistant]",
                ));
            }
            None => {
                return Err(schema_error(
                    "null",
                    &format!("messages.{}.member.role", i + 1),
                    "Member must not be null",
                ));
            }
        };
        if i == 0 && role != "user" {
            return Err(START_WITH_USER.into());
        }
        if prev_role == Some(role) {
            return Err(ALTERNATE.into());
        }
        prev_role = Some(role);
        let content = match m.get("content") {
            None | Some(Value::Null) => {
                return Err(schema_error(
                    "null",
                    &format!("messages.{}.member.content", i + 1),
                    "Member must not be null",
                ));
            }
            Some(Value::Array(c)) => c,
            Some(_) => {
                return Err(
                    "Malformed input request, please reformat your input and try again.".into(),
                );
            }
        };
        if content.is_empty() {
            return Err(format!(
                "The content field in the Message object at messages.{i} is empty. Add a \
                 ContentBlock object to the content field and try again."
            ));
        }
        check_blocks(content, i, has_tool_config)?;
        let results = tool_ids(content, "toolResult");
        if !pending_tool_uses.is_empty() || !results.is_empty() {
            check_results(&pending_tool_uses, &results, i)?;
        }
        pending_tool_uses = if role == "assistant" {
            tool_ids(content, "toolUse")
        } else {
            Vec::new()
        };
    }
    Ok(())
}

fn check_blocks(content: &[Value], i: usize, has_tool_config: bool) -> Result<(), String> {
    for (j, block) in content.iter().enumerate() {
        if let Some(text) = block.get("text")
            && text.as_str().is_none_or(|t| t.trim().is_empty())
        {
            return Err(format!(
                "The text field in the ContentBlock object at messages.{i}.content.{j} is blank. \
                 Add text to the text field, and try again."
            ));
        }
        if (block.get("toolUse").is_some() || block.get("toolResult").is_some()) && !has_tool_config
        {
            return Err(TOOL_CONFIG_REQUIRED.into());
        }
        if let Some(r) = block
            .get("reasoningContent")
            .and_then(|r| r.get("reasoningText"))
            && r.get("signature")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            return Err(format!(
                "The model returned the following errors: messages.{i}.content.{j}.thinking.\
                 signature: Field required"
            ));
        }
    }
    Ok(())
}

/// A user turn's `toolResult` ids must answer the previous assistant turn's `toolUse` ids.
fn check_results(uses: &[String], results: &[String], i: usize) -> Result<(), String> {
    if results.len() > uses.len() {
        return Err(format!(
            "The number of toolResult blocks at messages.{i}.content exceeds the number of \
             toolUse blocks of previous turn."
        ));
    }
    let answered: BTreeSet<&str> = results.iter().map(String::as_str).collect();
    let missing: Vec<&str> = uses
        .iter()
        .map(String::as_str)
        .filter(|id| !answered.contains(id))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "Expected toolResult blocks at messages.{i}.content for the following Ids: {}",
            missing.join(", ")
        ))
    }
}

fn check_tool_config(cfg: &Value) -> Result<(), String> {
    let tools = match cfg.get("tools") {
        Some(Value::Array(t)) => t,
        _ => {
            return Err(schema_error(
                "null",
                "toolConfig.tools",
                "Member must not be null",
            ));
        }
    };
    if tools.is_empty() {
        return Err(schema_error(
            "'[]'",
            "toolConfig.tools",
            "Member must have length greater than or equal to 1",
        ));
    }
    for (k, tool) in tools.iter().enumerate() {
        let Some(name) = tool
            .get("toolSpec")
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(schema_error(
                &format!("'{name}'"),
                &format!("toolConfig.tools.{}.member.toolSpec.name", k + 1),
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tools() -> Value {
        json!({"tools": [{"toolSpec": {"name": "get_weather",
                                       "inputSchema": {"json": {"type": "object"}}}}]})
    }

    fn round_trip(with_config: bool) -> Value {
        let mut b = json!({"messages": [
            {"role": "user", "content": [{"text": "weather?"}]},
            {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "t1", "content": [{"text": "sunny"}]}}]}
        ]});
        if with_config {
            b["toolConfig"] = tools();
        }
        b
    }

    #[test]
    fn accepts_a_tool_round_trip() {
        assert_eq!(converse(&round_trip(true)), Ok(()));
        assert_eq!(
            converse(&json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]})),
            Ok(())
        );
    }

    #[test]
    fn tool_blocks_need_tool_config() {
        assert_eq!(
            converse(&round_trip(false)),
            Err(TOOL_CONFIG_REQUIRED.into())
        );
    }

    #[test]
    fn content_rules() {
        let null = json!({"messages": [{"role": "user", "content": null}]});
        assert_eq!(
            converse(&null).unwrap_err(),
            "1 validation error detected: Value null at 'messages.1.member.content' failed to \
             satisfy constraint: Member must not be null"
        );
        let empty = json!({"messages": [{"role": "user", "content": [{"text": "a"}]},
                                        {"role": "assistant", "content": []}]});
        assert_eq!(
            converse(&empty).unwrap_err(),
            "The content field in the Message object at messages.1 is empty. Add a ContentBlock \
             object to the content field and try again."
        );
        let blank = json!({"messages": [{"role": "user", "content": [{"text": " "}]}]});
        assert!(
            converse(&blank)
                .unwrap_err()
                .contains("messages.0.content.0 is blank")
        );
    }

    #[test]
    fn role_rules() {
        let two_users = json!({"messages": [{"role": "user", "content": [{"text": "a"}]},
                                            {"role": "user", "content": [{"text": "b"}]}]});
        assert_eq!(converse(&two_users), Err(ALTERNATE.into()));
        let first_assistant =
            json!({"messages": [{"role": "assistant", "content": [{"text": "a"}]}]});
        assert_eq!(converse(&first_assistant), Err(START_WITH_USER.into()));
        assert_eq!(
            converse(&json!({"messages": []})),
            Err(START_WITH_USER.into())
        );
        let system = json!({"messages": [{"role": "system", "content": [{"text": "a"}]}]});
        assert!(
            converse(&system)
                .unwrap_err()
                .contains("enum value set: [user, assistant]")
        );
    }

    #[test]
    fn tool_result_ids_must_answer_tool_uses() {
        let mut b = round_trip(true);
        b["messages"][2]["content"][0]["toolResult"]["toolUseId"] = json!("other");
        assert_eq!(
            converse(&b).unwrap_err(),
            "Expected toolResult blocks at messages.2.content for the following Ids: t1"
        );
        let mut b = round_trip(true);
        b["messages"][2]["content"] = json!([{"text": "no results"}]);
        assert!(
            converse(&b)
                .unwrap_err()
                .starts_with("Expected toolResult blocks")
        );
        let extra = json!({"toolConfig": tools(), "messages": [{"role": "user", "content": [
            {"toolResult": {"toolUseId": "x", "content": [{"text": "r"}]}}]}]});
        assert!(
            converse(&extra)
                .unwrap_err()
                .contains("exceeds the number of toolUse")
        );
    }

    #[test]
    fn tool_config_and_reasoning_rules() {
        let mut b = round_trip(true);
        b["toolConfig"] = json!({"tools": []});
        assert!(
            converse(&b)
                .unwrap_err()
                .contains("length greater than or equal to 1")
        );
        b["toolConfig"] = json!({"tools": [{"toolSpec": {"name": "a.b"}}]});
        assert!(
            converse(&b)
                .unwrap_err()
                .contains("toolConfig.tools.1.member.toolSpec.name")
        );
        let unsigned = json!({"messages": [
            {"role": "user", "content": [{"text": "q"}]},
            {"role": "assistant", "content": [{"reasoningContent": {"reasoningText": {"text": "hm"}}},
                                              {"text": "a"}]},
            {"role": "user", "content": [{"text": "q2"}]}]});
        assert!(
            converse(&unsigned)
                .unwrap_err()
                .contains("messages.1.content.0.thinking.signature")
        );
    }
}

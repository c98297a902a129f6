//! Tools in Converse's shape: tool specs (names limited to `[a-zA-Z0-9_-]{1,64}`,
//! [`ToolNames::strict`]), `toolUse` blocks, and the stub tool sent when the history holds tool
//! blocks but the request offers none (Converse then requires a `toolConfig`).

use super::formats::tool_use_id;
use super::request::STUB_TOOL_NAME;
use super::types::*;
use crate::anthropic::response::tool_input;
use crate::ir::{Tool, ToolCall};
use crate::target::ToolNames;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// What the stub tool says, so a model never calls it.
const STUB_TOOL_DESCRIPTION: &str =
    "Placeholder: no tools are available for this turn. Never call this tool.";

pub(super) fn stub_tool(schema: &RawValue) -> OutTool<'_> {
    OutTool::ToolSpec(OutToolSpec {
        name: Cow::Borrowed(STUB_TOOL_NAME),
        description: Some(STUB_TOOL_DESCRIPTION),
        input_schema: OutSchema { json: schema },
    })
}

pub(super) fn tool_spec<'a>(tool: &'a Tool, custom_schema: &'a RawValue) -> OutToolSpec<'a> {
    OutToolSpec {
        name: ToolNames::strict(&tool.name),
        description: tool.description.as_deref().filter(|d| !d.trim().is_empty()),
        input_schema: OutSchema {
            json: tool.parameters.as_deref().unwrap_or(custom_schema),
        },
    }
}

pub(super) fn tool_use(c: &ToolCall) -> OutToolUse<'_> {
    OutToolUse {
        tool_use_id: tool_use_id(&c.id),
        name: ToolNames::strict(&c.name),
        input: tool_input(c),
    }
}

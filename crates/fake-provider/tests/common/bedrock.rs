//! Bedrock test helpers: model ids, request bodies, paths.

use fake_provider::BedrockOperation;
use serde_json::{Value, json};

use super::Resp;

pub const CRI: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
pub const CRI_PATH: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0";
pub const ARN_PATH: &str =
    "arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aapplication-inference-profile%2Fabc123";
pub const ARN: &str = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123";

pub fn invoke_body() -> Value {
    json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1024,
           "anthropic_beta": ["interleaved-thinking-2025-05-14"],
           "messages": [{"role": "user", "content": "hello"}]})
}

pub fn converse_body() -> Value {
    json!({"messages": [{"role": "user", "content": [{"text": "hello"}]}]})
}

pub fn path(model: &str, op: BedrockOperation) -> String {
    format!("/model/{model}/{}", op.path_suffix())
}

pub fn error_type(r: &Resp) -> Option<&str> {
    r.header("x-amzn-errortype")
}

//! End to end with the real Claude Code through AWS Bedrock (issue 9, the seed's openClaude):
//! `agent-shim with <profile> --isolated -- claude -p …` for a user whose `~/.claude/settings.json`
//! sends Claude Code to Bedrock itself (`CLAUDE_CODE_USE_BEDROCK=1`, `ANTHROPIC_MODEL`). The
//! profile's opus and sonnet tiers are Claude on Bedrock InvokeModel, its haiku tier Qwen3 Coder on
//! Bedrock Converse; the fake Bedrock runtime verifies every request's SigV4 signature against the
//! static credentials the profile names through `os.environ/…`.
//!
//! The conversation: the main model (InvokeModelWithResponseStream) calls the `Agent` tool for a
//! subagent on the haiku tier, whose request goes to Converse; with the subagent's report, the
//! main model calls `Bash`; with the command's output, it answers.

use crate::claude_e2e::{claude_binary, output_within};
use crate::claude_isolated::{BEDROCK_USER_SETTINGS, user_claude_files};
use crate::common::*;
use fake_provider::{FakeProviderThread, RecordedRequest, Script};
use serde_json::{Value, json};
use std::time::Duration;

const OPUS_ID: &str = "us.anthropic.claude-opus-4-6-v1";
const SONNET_ID: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const QWEN_ID: &str = "qwen.qwen3-coder-480b-a35b-v1:0";
const KEY_ID: &str = "AKIDBEDROCKE2E";
const SECRET: &str = "bedrock-e2e-secret-access-key";
const SESSION_TOKEN: &str = "bedrock-e2e-session-token";
const REGION: &str = "us-west-2";
/// In the user's prompt: the main model's first turn is recognised by it.
const PROMPT: &str = "Ask a haiku subagent for its report (task br-e2e-prompt), then run the marker command and tell me what it printed.";
/// In the subagent's prompt (the `Agent` call's input): its Converse request carries it.
const SUBAGENT_TASK: &str = "Reply with your report for task br-e2e-subagent.";
/// The subagent's answer, which reaches the main model as the `Agent` tool's result.
const SUBAGENT_REPORT: &str = "Subagent report: qwen-subagent-ok";
/// What the `Bash` call prints.
const BASH_OUTPUT: &str = "bedrock-e2e-42";

/// Models `br-opus` / `br-sonnet` (Claude on InvokeModel) and `br-qwen` (Converse), all at the
/// fake's `base`, signed with the credentials of `BR_E2E_*`; profile `br-e2e` with those tiers.
fn bedrock_profile(s: &Sandbox, base: &str) {
    let aws = format!(
        "      aws_region_name: {REGION}
      aws_access_key_id: os.environ/BR_E2E_KEY_ID
      aws_secret_access_key: os.environ/BR_E2E_SECRET
      aws_session_token: os.environ/BR_E2E_SESSION_TOKEN
      aws_bedrock_runtime_endpoint: {base}
"
    );
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:
  - model_name: br-opus
    litellm_params:
      model: bedrock/{OPUS_ID}
{aws}    model_info:
      context_window: 200000
  - model_name: br-sonnet
    litellm_params:
      model: bedrock/{SONNET_ID}
{aws}    model_info:
      context_window: 200000
  - model_name: br-qwen
    litellm_params:
      model: bedrock/converse/{QWEN_ID}
{aws}    model_info:
      context_window: 128000
"
        ),
    );
    s.write_config(
        "profiles/br-e2e.yaml",
        "meta:\n  name: br-e2e\n  opus_model: br-opus\n  sonnet_model: br-sonnet\n  haiku_model: br-qwen\n",
    );
}

/// The fake's `aws` settings: only these credentials, region and model ids are accepted.
fn aws_block() -> Value {
    json!({
        "credentials": [{"access_key_id": KEY_ID, "secret_access_key": SECRET,
                         "session_token": SESSION_TOKEN}],
        "region": REGION,
        "models": [OPUS_ID, SONNET_ID, QWEN_ID]
    })
}

/// The fake Bedrock runtime: the `aws` settings of [`aws_block`]; the conversation of the
/// module's doc.
fn bedrock_fake() -> FakeProviderThread {
    let script = json!({
        "protocols": ["bedrock-invoke", "bedrock-converse"],
        "aws": aws_block(),
        "steps": [
            // Any haiku-tier request (the subagent's) gets the report.
            {"when": {"protocol": "bedrock-converse", "model": QWEN_ID},
             "reply": {"text": SUBAGENT_REPORT, "stream": {"text_chunks": 3}}},
            // Main model, third turn: the command's output is in the history.
            {"when": {"protocol": "bedrock-invoke", "contains": BASH_OUTPUT},
             "reply": {"text": "The command printed: {{last_tool_result}}",
                       "stream": {"text_chunks": 4}}},
            // Second turn: the subagent's report came back; run the command.
            {"when": {"protocol": "bedrock-invoke", "contains": "qwen-subagent-ok"},
             "reply": {"tool_calls": [{"name": "Bash", "arguments": {
                 "command": "echo bedrock-e2e-$((6*7))", "description": "Print the marker"}}],
                 "stream": {"arg_fragments": 5}}},
            // First turn: a subagent on the haiku tier.
            {"when": {"protocol": "bedrock-invoke", "has_tools": true, "contains": "br-e2e-prompt"},
             "reply": {"tool_calls": [{"name": "Agent", "arguments": {
                 "description": "Ask the small model", "prompt": SUBAGENT_TASK,
                 "subagent_type": "general-purpose", "model": "haiku"}}],
                 "stream": {"arg_fragments": 5}}}
        ],
        "default": {"text": "unexpected request"}
    });
    FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap()
}

/// The AWS call of a recorded Bedrock request.
fn call(r: &RecordedRequest) -> &fake_provider::AwsCall {
    r.aws.as_ref().expect("a Bedrock request")
}

fn model(r: &RecordedRequest) -> &str {
    call(r).model_id.as_deref().unwrap_or("-")
}

/// The Invoke requests' `tool_use` names, in order (the main model's calls, as Claude Code
/// replays them in the history).
fn tool_uses(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "assistant")
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|b| b["type"] == "tool_use")
        .map(|b| b["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn bedrock_e2e_claude_code_main_model_on_invoke_and_haiku_subagent_on_converse() {
    let claude = claude_binary();
    let fake = bedrock_fake();
    let s = Sandbox::new();
    bedrock_profile(&s, &fake.base_url());
    user_claude_files(&s, BEDROCK_USER_SETTINGS);
    let user_dir = s.home().join(".claude");
    let settings = user_dir.join("settings.json");
    let stamp = |p: &std::path::Path| {
        (
            std::fs::read(p).unwrap(),
            std::fs::metadata(p).unwrap().modified().unwrap(),
        )
    };
    let settings_before = stamp(&settings);
    let history_before = std::fs::read_to_string(user_dir.join("history.jsonl")).unwrap();

    let mut cmd = s.cmd(&[
        "with",
        "br-e2e",
        "--isolated",
        "--",
        &claude,
        "-p",
        PROMPT,
        "--output-format",
        "json",
        "--allowedTools",
        "Bash,Agent",
    ]);
    cmd.env("BR_E2E_KEY_ID", KEY_ID)
        .env("BR_E2E_SECRET", SECRET)
        .env("BR_E2E_SESSION_TOKEN", SESSION_TOKEN)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .stdin(std::process::Stdio::null());
    let out = output_within(cmd, Duration::from_secs(240));
    let printed = stdout(&out);

    let reqs = fake.aws_requests();
    println!("--- the fake Bedrock runtime saw {} requests:", reqs.len());
    for (i, r) in reqs.iter().enumerate() {
        let c = call(r);
        println!(
            "{i:>2}. {:<30} {:<45} key={} rejected={} tool calls in history={:?}",
            c.operation,
            model(r),
            c.sigv4.as_ref().map_or("-", |v| v.access_key_id.as_str()),
            c.rejected.as_deref().unwrap_or("no"),
            tool_uses(&r.body),
        );
    }
    println!("--- claude -p printed: {printed}");
    assert!(
        out.status.success(),
        "claude failed: {printed}\n{}",
        stderr(&out)
    );
    let result: Value =
        serde_json::from_str(printed.trim()).unwrap_or_else(|e| panic!("{e}: {printed}"));
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(
        result["result"],
        format!("The command printed: {BASH_OUTPUT}"),
        "{result}"
    );
    assert_eq!(result["num_turns"], 3, "{result}");
    let usage = result["modelUsage"].as_object().unwrap();
    assert!(
        usage.contains_key("br-opus") && usage.contains_key("br-qwen"),
        "Claude Code used the opus tier and, for the subagent, the haiku tier: {result}"
    );

    // Every request signed with the profile's credentials, for us-west-2, and accepted.
    assert!(!reqs.is_empty());
    for r in &reqs {
        let c = call(r);
        assert_eq!(
            c.rejected, None,
            "the fake refused {} {}",
            c.operation, r.path
        );
        let sig = c.sigv4.as_ref().expect("SigV4-signed");
        assert_eq!(
            (
                sig.access_key_id.as_str(),
                sig.region.as_str(),
                sig.service.as_str()
            ),
            (KEY_ID, REGION, "bedrock")
        );
        assert_eq!(r.headers["x-amz-security-token"], SESSION_TOKEN);
    }

    // The main model: InvokeModel(WithResponseStream) for the opus tier's Claude id, with the
    // Bedrock body; its three turns in order.
    let invokes: Vec<(usize, &RecordedRequest)> = reqs
        .iter()
        .enumerate()
        .filter(|(_, r)| call(r).operation.starts_with("InvokeModel"))
        .collect();
    assert!(invokes.len() >= 3, "three main-model turns at least");
    for (_, r) in &invokes {
        assert_eq!(model(r), OPUS_ID, "the main model is the opus tier's");
        assert_eq!(r.body["anthropic_version"], "bedrock-2023-05-31");
        assert!(r.body.get("model").is_none() && r.body.get("stream").is_none());
        assert!(!r.raw_body.contains("some-wrong-model"));
    }
    let first = invokes
        .iter()
        .find(|(_, r)| r.raw_body.contains("br-e2e-prompt"))
        .expect("the main model's first turn")
        .0;
    let with_report = invokes
        .iter()
        .find(|(_, r)| r.raw_body.contains("qwen-subagent-ok"))
        .expect("a main-model turn with the subagent's report");
    assert_eq!(tool_uses(&with_report.1.body), ["Agent"]);
    let agent_call = with_report.1.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .find(|b| b["type"] == "tool_use")
        .unwrap();
    assert_eq!(agent_call["input"]["model"], "haiku", "{agent_call}");
    let with_output = invokes
        .iter()
        .find(|(_, r)| r.raw_body.contains(BASH_OUTPUT))
        .expect("a main-model turn with the command's output");
    assert_eq!(tool_uses(&with_output.1.body), ["Agent", "Bash"]);
    let bash_result = with_output.1.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .rfind(|b| b["type"] == "tool_result")
        .unwrap();
    let text = match &bash_result["content"] {
        Value::String(t) => t.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    };
    assert_eq!(text.trim(), BASH_OUTPUT, "the shell really ran the command");
    assert!(first < with_report.0 && with_report.0 < with_output.0);

    // The haiku tier's subagent: Converse(Stream) for the Qwen id, between the first two turns.
    let subagent = reqs
        .iter()
        .enumerate()
        .find(|(_, r)| {
            call(r).operation.starts_with("Converse") && r.raw_body.contains("br-e2e-subagent")
        })
        .expect("the subagent's request went to Converse");
    assert_eq!(model(subagent.1), QWEN_ID, "the haiku tier is Qwen");
    assert!(subagent.1.body["messages"].is_array() && subagent.1.body.get("model").is_none());
    assert!(first < subagent.0 && subagent.0 < with_report.0);
    for r in reqs
        .iter()
        .filter(|r| call(r).operation.starts_with("Converse"))
    {
        assert_eq!(model(r), QWEN_ID, "only the haiku tier speaks Converse");
    }

    // The user's files: settings.json as it was; history through the isolated dir.
    assert_eq!(
        stamp(&settings),
        settings_before,
        "the user's settings.json is untouched"
    );
    let iso = s.state_dir().join("claude-isolated/br-e2e");
    let history = std::fs::read_to_string(iso.join("history.jsonl")).unwrap();
    assert!(
        history.starts_with(&history_before),
        "the user's history, through the isolated dir: {history}"
    );
    assert_eq!(
        std::fs::read_link(iso.join("history.jsonl")).unwrap(),
        user_dir.join("history.jsonl")
    );
}

/// `models test` of a profile on Bedrock: every tier answers, the haiku tier through Converse
/// (LiteLLM's health check reports such Converse models unhealthy; the seed works around it).
#[test]
fn models_test_of_a_bedrock_profile_answers_every_tier_including_converse() {
    let script = json!({
        "protocols": ["bedrock-invoke", "bedrock-converse"],
        "aws": aws_block(),
        "steps": [
            {"when": {"protocol": "bedrock-converse", "model": QWEN_ID},
             "reply": {"text": "Qwen through Converse."}},
            {"when": {"protocol": "bedrock-invoke"},
             "reply": {"text": "Claude through Invoke."}}
        ],
        "default": {"text": "unexpected request"}
    });
    let fake = FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
    let s = Sandbox::new();
    bedrock_profile(&s, &fake.base_url());
    let o = s
        .cmd(&["models", "test", "br-e2e"])
        .env("BR_E2E_KEY_ID", KEY_ID)
        .env("BR_E2E_SECRET", SECRET)
        .env("BR_E2E_SESSION_TOKEN", SESSION_TOKEN)
        .output()
        .unwrap();
    let out = stdout(&o);
    println!("models test printed:\n{out}{}", stderr(&o));
    assert!(o.status.success(), "{out}{}", stderr(&o));
    for (model, text) in [
        ("br-opus", "Claude through Invoke."),
        ("br-sonnet", "Claude through Invoke."),
        ("br-qwen", "Qwen through Converse."),
    ] {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(model))
            .unwrap_or_else(|| panic!("no line for {model}: {out}"));
        assert!(line.starts_with("ok") && line.contains(text), "{line}");
    }
    let ops: Vec<(String, String)> = fake
        .requests()
        .iter()
        .map(|r| {
            (
                format!("{:?}", call(r).operation).replace('"', ""),
                model(r).to_owned(),
            )
        })
        .collect();
    assert!(
        ops.iter()
            .any(|(op, m)| op.starts_with("Converse") && m == QWEN_ID),
        "{ops:?}"
    );
    assert!(
        ops.iter()
            .any(|(op, m)| op.starts_with("InvokeModel") && m == SONNET_ID),
        "{ops:?}"
    );
}

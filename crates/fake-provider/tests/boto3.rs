//! The cross-check with the official AWS client: boto3 (botocore) calls the fake Bedrock runtime
//! (Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream; a cross-region profile
//! id and an application-inference-profile ARN; a tool round trip; reasoning; exceptions
//! mid-stream; a 429; a wrong secret), then an SSO profile pointed at the fake portal and an
//! assume-role profile through the fake STS. boto3 signs with SigV4 for real, so every answer it
//! accepts shows the fake's signature check accepts genuine signatures.
//!
//! The Python is `AGENT_SHIM_TEST_BOTO3_PYTHON` (a venv with boto3, made by `.ci/run`); the test
//! fails without it.

use std::process::Command;

use fake_provider::{FakeProviderThread, RecordedRequest, Script};
use serde_json::{Value, json};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/boto3_bedrock.py");
const CRI: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const ARN: &str = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123";
const ARN_PATH: &str =
    "arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aapplication-inference-profile%2Fabc123";
const THROTTLED: &str = "us.anthropic.claude-throttled-v1:0";
const ACCESS_KEY: &str = "ASIABOTO3TEST0000001";
const SECRET: &str = "boto3/test/secret/K7MDENG+bPxRfiCYEXAMPLE";
const TOKEN: &str = "FwoGZXIvYXdzEBoaDBoto3TestSessionToken//////////";

fn python() -> String {
    std::env::var("AGENT_SHIM_TEST_BOTO3_PYTHON").unwrap_or_else(|_| {
        panic!(
            "AGENT_SHIM_TEST_BOTO3_PYTHON is not set: it must name a Python with the PyPI package \
             `boto3` (`bash .ci/run` makes that venv; by hand: `python3 -m venv /tmp/boto3 && \
             /tmp/boto3/bin/pip install boto3==1.44.18`, then set the variable to \
             /tmp/boto3/bin/python)"
        )
    })
}

fn step(when: Value, reply: Value) -> Value {
    json!({"when": when, "reply": reply})
}

fn script() -> Script {
    let weather = json!([{"name": "get_weather", "arguments": {"city": "Paris"}}]);
    let thinking = json!({"reasoning": "The user asks about Paris.", "text": "Sunny, 21 C."});
    let mut steps = vec![
        step(
            json!({"model": THROTTLED, "operation": "ConverseStream"}),
            json!({"text": "a partial answer", "stream": {"fail_after": 2},
                   "error": {"type": "throttlingException",
                             "message": "Too many tokens, please wait before trying again."}}),
        ),
        step(
            json!({"model": THROTTLED, "operation": "InvokeModelWithResponseStream"}),
            json!({"text": "a partial answer", "stream": {"fail_after": 3},
                   "error": {"type": "modelStreamErrorException", "message": "The stream broke."}}),
        ),
        step(json!({"model": THROTTLED}), json!({"status": 429})),
        step(
            json!({"operation": "Converse", "last_role": "tool"}),
            json!({"text": "The weather in Paris: {{last_tool_result}}"}),
        ),
        step(
            json!({"operation": "Converse", "has_tools": true}),
            json!({"tool_calls": weather}),
        ),
        step(
            json!({"operation": "ConverseStream", "has_tools": true}),
            json!({"text": "Checking.", "tool_calls": weather}),
        ),
        step(
            json!({"operation": "InvokeModelWithResponseStream", "has_tools": true}),
            json!({"tool_calls": weather}),
        ),
    ];
    for op in [
        "Converse",
        "ConverseStream",
        "InvokeModelWithResponseStream",
    ] {
        steps.push(step(
            json!({"operation": op, "contains": "budget_tokens"}),
            thinking.clone(),
        ));
    }
    for op in [
        "Converse",
        "ConverseStream",
        "InvokeModel",
        "InvokeModelWithResponseStream",
    ] {
        steps.push(step(
            json!({"operation": op}),
            json!({"text": format!("{op} answers {{{{model}}}}")}),
        ));
    }
    let script = json!({
        "steps": steps,
        "aws": {
            "credentials": [{"access_key_id": ACCESS_KEY, "secret_access_key": SECRET,
                             "session_token": TOKEN}],
            "region": "us-west-2",
            "sso": {
                "access_token": "fake-sso-access-token",
                "account_id": "123456789012",
                "role_name": "BedrockUser",
                // Five minutes: inside botocore's refresh window, so every call refreshes.
                "credentials": [
                    {"access_key_id": "ASIASSOFIRST00000001", "secret_access_key": "sso-1",
                     "session_token": "sso-token-1", "expires_in_secs": 300},
                    {"access_key_id": "ASIASSOSECOND0000001", "secret_access_key": "sso-2",
                     "session_token": "sso-token-2", "expires_in_secs": 300}
                ]
            },
            "sts": {"role_arn": "arn:aws:iam::123456789012:role/BedrockRole"}
        }
    });
    Script::from_json(&script.to_string()).expect("valid script")
}

/// Runs the Python script against `fake`; its JSON report.
fn run_boto3(fake: &FakeProviderThread) -> Value {
    let home = std::env::temp_dir().join(format!("fp-boto3-home-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).expect("home dir");
    let mut cmd = Command::new(python());
    cmd.arg(SCRIPT)
        .args([&fake.base_url(), ACCESS_KEY, SECRET, TOKEN])
        .env("HOME", &home)
        .env("AWS_ENDPOINT_URL_SSO", fake.base_url())
        .env("AWS_ENDPOINT_URL_STS", fake.base_url())
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_PROXY", "*");
    for (k, _) in std::env::vars() {
        let aws = k.starts_with("AWS_") && !k.starts_with("AWS_ENDPOINT_URL_SSO");
        let keep = [
            "AWS_ENDPOINT_URL_STS",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_EC2_METADATA_DISABLED",
        ];
        if (aws && !keep.contains(&k.as_str())) || k.to_ascii_lowercase().ends_with("_proxy") {
            cmd.env_remove(&k);
        }
    }
    let out = cmd.output().expect("run the boto3 script");
    let _ = std::fs::remove_dir_all(&home);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "boto3 script failed ({}):\n{}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("boto3 report is not JSON ({e}): {stdout}"))
}

/// The kinds of ConverseStream events boto3 yielded, with block details.
fn converse_kinds(events: &Value) -> Vec<String> {
    let events = events.as_array().expect("events");
    events
        .iter()
        .map(|ev| {
            let (kind, body) = ev
                .as_object()
                .and_then(|o| o.iter().next())
                .expect("one key per event");
            let delta = &body["delta"];
            match kind.as_str() {
                "contentBlockDelta" if delta.get("text").is_some() => "delta:text".into(),
                "contentBlockDelta" if delta.get("toolUse").is_some() => "delta:toolUse".into(),
                "contentBlockDelta" if delta["reasoningContent"].get("signature").is_some() => {
                    "delta:signature".into()
                }
                "contentBlockDelta" => "delta:reasoning".into(),
                other => other.to_string(),
            }
        })
        .collect()
}

/// Concatenation of the ConverseStream deltas of one kind (`text`, reasoning `text`, tool input).
fn converse_text(events: &Value, pick: impl Fn(&Value) -> Option<&str>) -> String {
    events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|ev| pick(&ev["contentBlockDelta"]["delta"]))
        .collect()
}

fn invoke_types(chunks: &Value) -> Vec<String> {
    chunks
        .as_array()
        .expect("chunks")
        .iter()
        .map(|c| {
            let t = c["type"].as_str().unwrap_or("?");
            match t {
                "content_block_start" => format!(
                    "start:{}",
                    c["content_block"]["type"].as_str().unwrap_or("?")
                ),
                "content_block_delta" => {
                    format!("delta:{}", c["delta"]["type"].as_str().unwrap_or("?"))
                }
                other => other.to_string(),
            }
        })
        .collect()
}

fn invoke_text(chunks: &Value, field: &str) -> String {
    chunks
        .as_array()
        .expect("chunks")
        .iter()
        .filter_map(|c| c["delta"][field].as_str())
        .collect()
}

fn check_plain_calls(r: &Value) {
    for (name, model) in [("cri", CRI), ("arn", ARN)] {
        let c = &r[format!("converse_{name}")];
        assert_eq!(c["role"], "assistant");
        assert_eq!(
            c["content"],
            json!([{"text": format!("Converse answers {model}")}])
        );
        assert_eq!(c["stopReason"], "end_turn");
        let u = &c["usage"];
        assert_eq!(
            u["totalTokens"].as_u64(),
            Some(u["inputTokens"].as_u64().unwrap_or(0) + u["outputTokens"].as_u64().unwrap_or(0))
        );
        assert!(c["metrics"]["latencyMs"].as_u64().is_some());
        let s = &r[format!("converse_stream_{name}")];
        let kinds = converse_kinds(s);
        let n = kinds.len();
        assert!(n > 4, "{kinds:?}");
        assert_eq!(kinds[0], "messageStart");
        assert!(
            kinds[1..n - 3].iter().all(|k| k == "delta:text"),
            "{kinds:?}"
        );
        assert_eq!(
            kinds[n - 3..],
            ["contentBlockStop", "messageStop", "metadata"]
        );
        assert_eq!(
            converse_text(s, |d| d["text"].as_str()),
            format!("ConverseStream answers {model}")
        );
        let meta = &s[kinds.len() - 1]["metadata"];
        assert!(meta["usage"]["outputTokens"].as_u64().is_some(), "{meta}");
        let i = &r[format!("invoke_{name}")];
        assert_eq!(i["contentType"], "application/json");
        assert_eq!(i["body"]["type"], "message");
        assert_eq!(i["body"]["model"], model);
        assert_eq!(
            i["body"]["content"],
            json!([{"type": "text", "text": format!("InvokeModel answers {model}")}])
        );
        let st = &r[format!("invoke_stream_{name}")];
        let types = invoke_types(st);
        assert_eq!(types.first().map(String::as_str), Some("message_start"));
        assert_eq!(
            &types[types.len() - 3..],
            ["content_block_stop", "message_delta", "message_stop"]
        );
        assert!(!types.contains(&"ping".to_string()));
        assert_eq!(
            invoke_text(st, "text"),
            format!("InvokeModelWithResponseStream answers {model}")
        );
        let last = st.as_array().and_then(|a| a.last()).expect("message_stop");
        let metrics = &last["amazon-bedrock-invocationMetrics"];
        for k in [
            "inputTokenCount",
            "outputTokenCount",
            "invocationLatency",
            "firstByteLatency",
        ] {
            assert!(metrics[k].as_u64().is_some(), "{k} missing in {last}");
        }
    }
}

fn check_tools(r: &Value) {
    let t = &r["converse_tool"];
    assert_eq!(t["stopReason"], "tool_use");
    assert_eq!(t["toolUse"]["name"], "get_weather");
    assert_eq!(t["toolUse"]["input"], json!({"city": "Paris"}));
    assert!(
        t["toolUse"]["toolUseId"]
            .as_str()
            .is_some_and(|id| id.starts_with("tooluse_"))
    );
    assert_eq!(
        r["converse_tool_result"],
        json!([{"text": "The weather in Paris: sunny, 21 C"}])
    );
    let e = &r["converse_no_tool_config"];
    assert_eq!(e["class"], "ValidationException");
    assert_eq!(e["status"], 400);
    assert_eq!(e["message"], fake_provider::TOOL_CONFIG_REQUIRED);
    let s = &r["converse_stream_tool"];
    assert_eq!(
        converse_kinds(s),
        [
            "messageStart",
            "delta:text",
            "contentBlockStop",
            "contentBlockStart",
            "delta:toolUse",
            "delta:toolUse",
            "delta:toolUse",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    assert_eq!(
        s[3]["contentBlockStart"]["start"]["toolUse"]["name"],
        "get_weather"
    );
    assert_eq!(s[3]["contentBlockStart"]["contentBlockIndex"], 1);
    let input = converse_text(s, |d| d["toolUse"]["input"].as_str());
    assert_eq!(
        serde_json::from_str::<Value>(&input).ok(),
        Some(json!({"city": "Paris"}))
    );
    assert_eq!(s[8]["messageStop"]["stopReason"], "tool_use");
    let i = &r["invoke_stream_tool"];
    assert_eq!(
        invoke_types(i),
        [
            "message_start",
            "start:tool_use",
            "delta:input_json_delta",
            "delta:input_json_delta",
            "delta:input_json_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(i[1]["content_block"]["name"], "get_weather");
    let input = invoke_text(i, "partial_json");
    assert_eq!(
        serde_json::from_str::<Value>(&input).ok(),
        Some(json!({"city": "Paris"}))
    );
    assert_eq!(i[6]["delta"]["stop_reason"], "tool_use");
}

fn check_reasoning(r: &Value) {
    assert_eq!(
        r["converse_reasoning"],
        json!([
            {"reasoningContent": {"reasoningText": {"text": "The user asks about Paris.",
                                                    "signature": "fake-signature"}}},
            {"text": "Sunny, 21 C."}
        ])
    );
    let s = &r["converse_stream_reasoning"];
    let kinds = converse_kinds(s);
    assert_eq!(kinds[0], "messageStart");
    let sig = kinds
        .iter()
        .position(|k| k == "delta:signature")
        .expect("signature delta");
    assert!(
        kinds[1..sig].iter().all(|k| k == "delta:reasoning"),
        "{kinds:?}"
    );
    assert_eq!(
        kinds[sig + 1..],
        [
            "contentBlockStop",
            "delta:text",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    assert_eq!(
        converse_text(s, |d| d["reasoningContent"]["text"].as_str()),
        "The user asks about Paris."
    );
    assert_eq!(
        s[sig]["contentBlockDelta"]["delta"]["reasoningContent"]["signature"],
        "fake-signature"
    );
    let i = &r["invoke_stream_reasoning"];
    let types = invoke_types(i);
    assert_eq!(types[1], "start:thinking");
    assert!(
        types.contains(&"delta:signature_delta".to_string()),
        "{types:?}"
    );
    assert_eq!(invoke_text(i, "thinking"), "The user asks about Paris.");
    assert_eq!(invoke_text(i, "signature"), "fake-signature");
    assert_eq!(invoke_text(i, "text"), "Sunny, 21 C.");
}

fn check_failures(r: &Value) {
    let c = &r["converse_stream_exception"];
    assert_eq!(
        c["error"],
        json!({"class": "EventStreamError", "code": "throttlingException",
               "message": "Too many tokens, please wait before trying again.", "status": null})
    );
    assert_eq!(c["events"].as_array().map(Vec::len), Some(2), "{c}");
    let i = &r["invoke_stream_exception"];
    assert_eq!(i["error"]["class"], "EventStreamError");
    assert_eq!(i["error"]["code"], "modelStreamErrorException");
    assert_eq!(i["error"]["message"], "The stream broke.");
    assert_eq!(i["events"].as_array().map(Vec::len), Some(3), "{i}");
    for key in ["converse_429", "invoke_429"] {
        assert_eq!(
            r[key],
            json!({"class": "ThrottlingException", "code": "ThrottlingException",
                   "message": "Too many requests, please wait before trying again.",
                   "status": 429}),
            "{key}"
        );
    }
    let w = &r["wrong_secret"];
    assert_eq!(w["code"], "InvalidSignatureException");
    assert_eq!(w["status"], 403);
    assert!(
        w["message"].as_str().is_some_and(|m| m.starts_with(
            "The request signature we calculated does not match the signature you provided."
        )),
        "{w}"
    );
    let v = &r["invoke_no_version"];
    assert_eq!(v["code"], "ValidationException");
    assert_eq!(
        v["message"],
        "Malformed input request: #: required key [anthropic_version] not found, please \
         reformat your input and try again."
    );
    let a = &r["converse_not_alternating"];
    assert_eq!(a["code"], "ValidationException");
    assert!(
        a["message"]
            .as_str()
            .is_some_and(|m| m.contains("must alternate")),
        "{a}"
    );
}

fn check_sso_and_sts(r: &Value, fake: &FakeProviderThread) {
    assert_eq!(
        r["sso"]["first"],
        json!([{"text": format!("Converse answers {CRI}")}])
    );
    assert_eq!(
        r["sso"]["second"],
        json!([{"text": format!("Converse answers {ARN}")}])
    );
    assert_eq!(
        r["sts"],
        json!([{"text": format!("Converse answers {CRI}")}])
    );
    // Five-minute credentials are inside botocore's refresh window: it fetched again.
    assert!(fake.sso_calls() >= 2, "sso calls: {}", fake.sso_calls());
    assert_eq!(fake.sts_calls(), 1);
    let keys: Vec<String> = fake
        .aws_requests()
        .iter()
        .filter_map(|r| {
            r.aws
                .as_ref()?
                .sigv4
                .as_ref()
                .map(|s| s.access_key_id.clone())
        })
        .collect();
    for key in [
        "ASIASSOFIRST00000001",
        "ASIASSOSECOND0000001",
        "ASIAFAKESTS0000000001",
    ] {
        assert!(
            keys.iter().any(|k| k == key),
            "no request signed with {key}: {keys:?}"
        );
    }
    let sso: Vec<RecordedRequest> = fake
        .aws_requests()
        .into_iter()
        .filter(|r| r.path == "/federation/credentials")
        .collect();
    assert!(!sso.is_empty());
    for r in &sso {
        assert_eq!(
            r.headers.get("x-amz-sso_bearer_token").map(String::as_str),
            Some("fake-sso-access-token")
        );
        let q = r.query.as_deref().unwrap_or("");
        assert!(
            q.contains("role_name=BedrockUser") && q.contains("account_id=123456789012"),
            "{q}"
        );
    }
}

/// What the fake recorded of boto3's Bedrock calls: decoded model ids, encoded paths, SigV4.
fn check_recorded(fake: &FakeProviderThread) {
    let bedrock: Vec<RecordedRequest> = fake
        .aws_requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/model/"))
        .collect();
    let arn_calls: Vec<&RecordedRequest> = bedrock
        .iter()
        .filter(|r| r.aws.as_ref().and_then(|a| a.model_id.as_deref()) == Some(ARN))
        .collect();
    assert!(!arn_calls.is_empty());
    for r in &arn_calls {
        assert!(
            r.path.starts_with(&format!("/model/{ARN_PATH}/")),
            "{}",
            r.path
        );
    }
    let cri = bedrock
        .iter()
        .find(|r| r.path == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse")
        .expect("a Converse call with the cross-region id");
    let call = cri.aws.as_ref().expect("aws record");
    assert_eq!(call.operation, "Converse");
    assert_eq!(call.model_id.as_deref(), Some(CRI));
    let sig = call.sigv4.as_ref().expect("signed");
    assert_eq!(
        (sig.service.as_str(), sig.region.as_str()),
        ("bedrock", "us-west-2")
    );
    assert!(
        sig.signed_headers
            .iter()
            .any(|h| h == "x-amz-security-token"),
        "{sig:?}"
    );
    assert_eq!(
        cri.headers.get("x-amz-security-token").map(String::as_str),
        Some(TOKEN)
    );
    let ops: Vec<&str> = bedrock
        .iter()
        .filter_map(|r| r.aws.as_ref().map(|a| a.operation.as_str()))
        .collect();
    for op in [
        "Converse",
        "ConverseStream",
        "InvokeModel",
        "InvokeModelWithResponseStream",
    ] {
        assert!(ops.contains(&op), "{op} missing in {ops:?}");
    }
    let rejected: Vec<(&str, &str)> = bedrock
        .iter()
        .filter_map(|r| {
            let a = r.aws.as_ref()?;
            Some((a.operation.as_str(), a.rejected.as_deref()?))
        })
        .collect();
    assert_eq!(
        rejected,
        [
            ("Converse", "ValidationException"),
            ("Converse", "InvalidSignatureException"),
            ("InvokeModel", "ValidationException"),
            ("Converse", "ValidationException"),
        ]
    );
}

#[test]
fn boto3_against_the_fake_bedrock() {
    let fake = FakeProviderThread::start(script()).expect("start fake");
    let report = run_boto3(&fake);
    println!(
        "boto3 {} / botocore {}",
        report["boto3"], report["botocore"]
    );
    check_plain_calls(&report);
    check_tools(&report);
    check_reasoning(&report);
    check_failures(&report);
    check_sso_and_sts(&report, &fake);
    check_recorded(&fake);
}

//! End to end with the real Claude Code CLI and scenario routing (issue 11 §3): a profile whose
//! `router:` sends the haiku tier (`background`) and long requests (`long_context`) to other
//! models; the fake upstream's record says which model each request reached.

use crate::claude_e2e::{claude_binary, output_within};
use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::json;
use std::io::Write;
use std::time::Duration;

/// A Chat-only upstream with four models (main, quick, bg, long), and a profile whose tiers are
/// main/main/quick and whose rules send background work to `bg` and requests over 100,000
/// tokens to `long`.
fn scenario_profile(s: &Sandbox, base: &str) {
    let model = |name: &str| {
        format!(
            "  - model_name: {name}\n    litellm_params:\n      model: openai/up-{name}\n      \
             api_base: {base}/v1\n      api_key: os.environ/FAKE_UPSTREAM_KEY\n    model_info:\n      \
             context_window: 1000000\n"
        )
    };
    let list: String = ["main", "quick", "bg", "long"].map(model).concat();
    s.write_config("models.yaml", &format!("model_list:\n{list}"));
    s.write_config(
        "profiles/coder.yaml",
        "meta:\n  name: coder\n  opus_model: main\n  sonnet_model: main\n  haiku_model: quick\n  \
         router:\n    background: bg\n    long_context: long\n    long_context_threshold: 100000\n",
    );
}

/// The upstream model ids the fake was asked for, in order.
fn served(fake: &FakeProviderThread) -> Vec<String> {
    fake.requests()
        .iter()
        .filter_map(|r| r.body["model"].as_str().map(str::to_owned))
        .collect()
}

/// Runs `claude -p` through `with coder`, the prompt on stdin, and returns what it printed.
fn run_claude(s: &Sandbox, claude: &str, extra: &[&str], prompt: String) -> String {
    let mut args = vec![
        "with",
        "coder",
        "--",
        claude,
        "-p",
        "--output-format",
        "json",
    ];
    args.extend_from_slice(extra);
    let mut cmd = s.cmd(&args);
    cmd.env("FAKE_UPSTREAM_KEY", "sk-fake-upstream")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
    // The prompt goes through a file: a long one exceeds an argument's size limit.
    let path = s.home().join("prompt.txt");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(prompt.as_bytes())
        .unwrap();
    cmd.stdin(std::fs::File::open(&path).unwrap());
    let out = output_within(cmd, Duration::from_secs(180));
    let printed = stdout(&out);
    assert!(
        out.status.success(),
        "claude failed: {printed}\n{}",
        stderr(&out)
    );
    printed
}

/// The first line of `log` containing `needle`.
fn line_in<'a>(log: &'a str, needle: &str) -> &'a str {
    log.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no log line with {needle}: {log}"))
}

#[test]
fn claude_codes_haiku_tier_and_long_requests_reach_the_rules_models() {
    let claude = claude_binary();
    let script = json!({
        "protocols": ["openai-chat"],
        "api_key": "sk-fake-upstream",
        "default": {"text": "done"}
    });
    let fake = FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
    let s = Sandbox::new();
    scenario_profile(&s, &fake.base_url());

    // The haiku tier (`--model haiku` → ANTHROPIC_DEFAULT_HAIKU_MODEL=quick): background → bg.
    let printed = run_claude(&s, &claude, &["--model", "haiku"], "Say done.".into());
    assert!(printed.contains("done"), "{printed}");
    let first = served(&fake);
    assert!(first.iter().any(|m| m == "up-bg"), "{first:?}");
    assert!(
        !first.iter().any(|m| m == "up-quick"),
        "no haiku-tier request reached the tier's own model: {first:?}"
    );

    // A prompt of well over 100,000 tokens on the default (opus) tier: long_context → long.
    let prompt: String =
        (0..40_000).map(|i| format!("item{i} ")).collect::<String>() + "\nSay done.";
    let printed = run_claude(&s, &claude, &[], prompt);
    assert!(printed.contains("done"), "{printed}");
    let reqs = fake.requests();
    let long: Vec<&str> = reqs[first.len()..]
        .iter()
        .filter(|r| r.raw_body.contains("item39999"))
        .map(|r| r.body["model"].as_str().unwrap_or_default())
        .collect();
    assert!(!long.is_empty(), "the long prompt reached the upstream");
    assert!(long.iter().all(|m| *m == "up-long"), "{long:?}");
    // A short prompt on the default tier: no rule matches, the tier's model serves.
    let before = fake.requests().len();
    let printed = run_claude(&s, &claude, &[], "Say done.".into());
    assert!(printed.contains("done"), "{printed}");
    let all = served(&fake);
    assert_eq!(all[before..], ["up-main"], "{all:?}");
    assert!(!all.iter().any(|m| m == "up-quick"), "{all:?}");
    println!("upstream models, in order: {all:?}");
    // The gateway's request log names the rule (and `-` when none chose).
    let log = gateway_log_with(&s, r#"upstream_model="up-main""#);
    assert!(
        line_in(&log, r#"upstream_model="up-long""#).contains(r#"route="long_context""#),
        "{log}"
    );
    assert!(
        line_in(&log, r#"upstream_model="up-bg""#).contains(r#"route="background""#),
        "{log}"
    );
    assert!(
        line_in(&log, r#"upstream_model="up-main""#).contains(r#"route="-""#),
        "{log}"
    );
}

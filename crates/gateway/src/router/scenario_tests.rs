//! The scenario rules against Claude Code's recorded request shape
//! (`crates/protocol/tests/fixtures/claude_code_request.json`) and variants of it.

use super::*;
use protocol::Protocol;
use serde_json::{Value, json};

const CLAUDE_CODE: &str = include_str!("../../../protocol/tests/fixtures/claude_code_request.json");

/// The recorded request, changed by `edit`, decoded as the gateway decodes it.
fn claude_code(edit: impl FnOnce(&mut Value)) -> (String, Request) {
    let mut v: Value = serde_json::from_str(CLAUDE_CODE).unwrap();
    edit(&mut v);
    let model = v["model"].as_str().unwrap().to_owned();
    let body = serde_json::to_vec(&v).unwrap();
    let req = Protocol::Anthropic.codec().decode_request(&body).unwrap();
    (model, req)
}

/// Claude Code's title call: haiku tier, no tools, no thinking, one text turn.
fn title_call(v: &mut Value) {
    v["model"] = json!("claude-haiku-4-5-20251001");
    v.as_object_mut().unwrap().remove("thinking");
    v.as_object_mut().unwrap().remove("tools");
    v.as_object_mut().unwrap().remove("output_config");
    v["messages"] = json!([{"role": "user", "content": [{"type": "text", "text": "Please write a 5-10 word title for the following conversation: hello"}]}]);
}

/// A plain main-loop turn: the recorded request without thinking, images or web search.
fn plain(v: &mut Value) {
    v.as_object_mut().unwrap().remove("thinking");
    v.as_object_mut().unwrap().remove("output_config");
    v["tools"] = json!([v["tools"][0].clone()]);
    v["messages"] = json!([{"role": "user", "content": "list the files"}]);
}

fn all_rules() -> ScenarioRules {
    ScenarioRules {
        background: Some("bg".into()),
        long_context: Some("long".into()),
        long_context_threshold: Some(1000),
        think: Some("thinker".into()),
        image: Some("eyes".into()),
        web_search: Some("searcher".into()),
    }
}

fn chosen(
    rules: &ScenarioRules,
    (model, req): &(String, Request),
    tokens: Option<u64>,
) -> Option<(&'static str, String)> {
    rules
        .choose(model, None, req, tokens)
        .map(|c| (c.scenario.as_str(), c.model))
}

#[test]
fn background_takes_claude_codes_haiku_tier_title_call() {
    let r = chosen(&all_rules(), &claude_code(title_call), None);
    assert_eq!(r, Some(("background", "bg".to_owned())));
    // Not the main loop's sonnet request.
    let r = chosen(&all_rules(), &claude_code(plain), None);
    assert_eq!(r, None);
}

#[test]
fn background_wins_over_long_context_first_match() {
    let r = chosen(&all_rules(), &claude_code(title_call), Some(5000));
    assert_eq!(r, Some(("background", "bg".to_owned())));
}

#[test]
fn long_context_above_the_threshold_only() {
    let rules = all_rules();
    let req = claude_code(plain);
    assert_eq!(
        chosen(&rules, &req, Some(1001)),
        Some(("long_context", "long".to_owned()))
    );
    assert_eq!(chosen(&rules, &req, Some(1000)), None);
    assert_eq!(chosen(&rules, &req, None), None);
}

#[test]
fn needs_tokens_only_with_a_long_context_rule_and_a_large_body() {
    let rules = all_rules();
    assert!(
        !rules.needs_tokens(1000),
        "1000 bytes cannot hold more than 1000 tokens"
    );
    assert!(rules.needs_tokens(1001));
    let no_long = ScenarioRules {
        long_context: None,
        ..all_rules()
    };
    assert!(!no_long.needs_tokens(10_000_000));
    let default = ScenarioRules {
        long_context: Some("l".into()),
        ..Default::default()
    };
    assert_eq!(default.threshold(), DEFAULT_LONG_CONTEXT_THRESHOLD);
}

#[test]
fn think_takes_claude_codes_adaptive_thinking() {
    // The recorded request: adaptive thinking, an image in the last user turn, a web_search
    // server tool. Think comes first.
    let r = chosen(&all_rules(), &claude_code(|_| {}), None);
    assert_eq!(r, Some(("think", "thinker".to_owned())));
    let r = chosen(
        &all_rules(),
        &claude_code(|v| {
            plain(v);
            v["thinking"] = json!({"type": "enabled", "budget_tokens": 2048});
        }),
        None,
    );
    assert_eq!(r, Some(("think", "thinker".to_owned())));
    let r = chosen(
        &all_rules(),
        &claude_code(|v| {
            plain(v);
            v["thinking"] = json!({"type": "disabled"});
        }),
        None,
    );
    assert_eq!(r, None);
}

#[test]
fn image_only_in_the_last_user_turn() {
    let no_think = ScenarioRules {
        think: None,
        web_search: None,
        ..all_rules()
    };
    // The recorded request: Claude Code's screenshot tool answered with an image in the
    // last user turn's tool result.
    assert_eq!(
        chosen(&no_think, &claude_code(|_| {}), None),
        Some(("image", "eyes".to_owned()))
    );
    // Images in an earlier user turn only: not this rule.
    let r = chosen(
        &no_think,
        &claude_code(|v| {
            v["messages"]
                .as_array_mut()
                .unwrap()
                .push(json!({"role": "user", "content": "thanks, go on"}));
        }),
        None,
    );
    assert_eq!(r, None);
    let img = json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}});
    let r = chosen(
        &no_think,
        &claude_code(|v| {
            plain(v);
            v["messages"] = json!([{"role": "user", "content": [{"type": "text", "text": "what is this"}, img]}]);
        }),
        None,
    );
    assert_eq!(r, Some(("image", "eyes".to_owned())));
    // Claude Code's Read of a picture: the image inside the tool result.
    let r = chosen(
        &no_think,
        &claude_code(|v| {
            plain(v);
            v["messages"] = json!([
                {"role": "user", "content": "look at shot.png"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "shot.png"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [img]}]}
            ]);
        }),
        None,
    );
    assert_eq!(r, Some(("image", "eyes".to_owned())));
}

#[test]
fn web_search_when_the_server_tool_is_offered() {
    let only = ScenarioRules {
        web_search: Some("searcher".into()),
        ..Default::default()
    };
    let r = chosen(&only, &claude_code(|_| {}), None);
    assert_eq!(r, Some(("web_search", "searcher".to_owned())));
    assert_eq!(chosen(&only, &claude_code(plain), None), None);
    // Codex's Responses `{"type":"web_search"}` tool.
    let body = json!({"model": "gpt-5", "input": "hi", "tools": [{"type": "web_search"}]});
    let req = Protocol::OpenAiResponses
        .codec()
        .decode_request(&serde_json::to_vec(&body).unwrap())
        .unwrap();
    assert_eq!(
        chosen(&only, &("gpt-5".to_owned(), req), None),
        Some(("web_search", "searcher".to_owned()))
    );
}

#[test]
fn no_rules_choose_nothing_and_parse_from_yaml_names() {
    assert!(ScenarioRules::default().is_empty());
    assert_eq!(
        chosen(
            &ScenarioRules::default(),
            &claude_code(title_call),
            Some(1 << 30)
        ),
        None
    );
    let r: ScenarioRules = serde_json::from_value(
        json!({"background": "b", "long_context": "l", "long_context_threshold": 5}),
    )
    .unwrap();
    assert_eq!(r.threshold(), 5);
    assert!(!r.is_empty());
    let e = serde_json::from_value::<ScenarioRules>(json!({"longContext": "l"})).unwrap_err();
    assert!(e.to_string().contains("longContext"), "{e}");
}

#[test]
fn background_takes_the_profiles_own_haiku_tier_model() {
    let rules = all_rules();
    let (_, req) = claude_code(plain);
    let pick = |model: &str, haiku: Option<&str>| {
        rules
            .choose(model, haiku, &req, None)
            .map(|c| c.scenario.as_str())
    };
    // `agent-shim with` exports ANTHROPIC_DEFAULT_HAIKU_MODEL=quick: Claude Code asks for it.
    assert_eq!(pick("quick", Some("quick")), Some("background"));
    assert_eq!(pick("quick[1m]", Some("quick")), Some("background"));
    assert_eq!(pick("main", Some("quick")), None);
    assert_eq!(pick("quick", None), None);
}

//! `agent-shim models list --remote`: a provider's own model list fetched from the fake
//! upstream, normalised (context window, price), cached for 12 hours in the XDG cache dir,
//! `--refresh`, a profile's `model_api_filters` (omitted, patterns, `[]`/`null`), `--all`, and
//! the errors of providers without a list or with a wrong key.

use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::{Value, json};
use std::path::PathBuf;

/// A fake upstream listing three models, the first with OpenRouter-style metadata; every call
/// must carry `sk-list-key`.
fn upstream() -> FakeProviderThread {
    let script = json!({
        "api_key": "sk-list-key",
        "models": ["big-coder", "small-chat", "embed-1"],
        "model_fields": {
            "big-coder": {"name": "Big Coder", "context_length": 262144,
                          "pricing": {"prompt": "0.000003", "completion": "0.000015"}},
            "small-chat": {"context_window": 32768}
        },
        "default": {"text": "hi"}
    });
    FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap()
}

/// A profile `test` on the fake upstream (`openai/big-coder`), with `filters` as its
/// `model_api_filters` line (or none).
fn profile(s: &Sandbox, base: &str, provider: &str, filters: Option<&str>) {
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:\n  - model_name: coder\n    litellm_params:\n      model: {provider}/big-coder\n      \
             api_base: {base}\n      api_key: os.environ/LIST_KEY\n"
        ),
    );
    let filters = filters.map_or(String::new(), |f| format!("  model_api_filters: {f}\n"));
    s.write_config(
        "profiles/test.yaml",
        &format!(
            "meta:\n  name: test\n  opus_model: coder\n  sonnet_model: coder\n  haiku_model: coder\n{filters}"
        ),
    );
}

fn list(s: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut all = vec!["models", "list", "--remote"];
    all.extend_from_slice(args);
    s.cmd(&all).env("LIST_KEY", "sk-list-key").output().unwrap()
}

fn list_json(s: &Sandbox, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let o = list(s, &a);
    assert_ok("models list --remote --json", &o);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

fn list_calls(fake: &FakeProviderThread) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/models"))
        .count()
}

fn cache_files(s: &Sandbox) -> Vec<PathBuf> {
    let dir = s.home().join(".cache/agent-shim/models");
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn fetched_once_cached_twelve_hours_and_refreshed_on_demand() {
    let fake = upstream();
    let s = Sandbox::new();
    profile(&s, &format!("{}/v1", fake.base_url()), "openai", None);

    let v = list_json(&s, &["test"]);
    let e = &v["endpoints"][0];
    assert_eq!(e["from_cache"], false, "{v}");
    assert_eq!(v["model_api_filters"], Value::Null, "omitted = catch-all");
    let ids: Vec<&str> = e["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["big-coder", "small-chat", "embed-1"]);
    let big = &e["models"][0];
    assert_eq!(big["display_name"], "Big Coder");
    assert_eq!(big["context_window"], 262_144);
    assert!((big["input_per_million"].as_f64().unwrap() - 3.0).abs() < 1e-9);
    assert!((big["output_per_million"].as_f64().unwrap() - 15.0).abs() < 1e-9);
    assert_eq!(e["models"][1]["context_window"], 32_768);
    assert_eq!(list_calls(&fake), 1);
    let req = fake.requests().into_iter().next().unwrap();
    assert_eq!(req.path, "/v1/models");
    assert_eq!(
        req.headers.get("authorization").map(String::as_str),
        Some("Bearer sk-list-key")
    );

    // The cache: one file in the XDG cache dir, without the key.
    let files = cache_files(&s);
    assert_eq!(files.len(), 1, "{files:?}");
    let cached = std::fs::read_to_string(&files[0]).unwrap();
    assert!(!cached.contains("sk-list-key"), "{cached}");

    // Within 12 hours: from the cache, no request.
    let v = list_json(&s, &["test"]);
    assert_eq!(v["endpoints"][0]["from_cache"], true);
    assert_eq!(list_calls(&fake), 1, "the cached list was used");
    let o = list(&s, &["test"]);
    assert_ok("table", &o);
    let table = stdout(&o);
    assert!(
        table.contains("cached") && table.contains("--refresh"),
        "{table}"
    );
    let row = table.lines().find(|l| l.starts_with("big-coder")).unwrap();
    assert!(
        row.contains("Big Coder")
            && row.contains("262,144")
            && row.contains("3.00")
            && row.contains("15.00"),
        "{row}"
    );

    // --refresh fetches now.
    let v = list_json(&s, &["test", "--refresh"]);
    assert_eq!(v["endpoints"][0]["from_cache"], false);
    assert_eq!(list_calls(&fake), 2);

    // Older than 12 hours: fetched again.
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    c["fetched_at"] = json!(c["fetched_at"].as_u64().unwrap() - 12 * 3600 - 1);
    std::fs::write(&files[0], c.to_string()).unwrap();
    let v = list_json(&s, &["test"]);
    assert_eq!(v["endpoints"][0]["from_cache"], false);
    assert_eq!(list_calls(&fake), 3, "a stale cache is fetched again");
    let v = list_json(&s, &["test"]);
    assert_eq!(v["endpoints"][0]["from_cache"], true);
    assert_eq!(list_calls(&fake), 3);
}

#[test]
fn cache_dir_follows_agent_shim_cache_dir() {
    let fake = upstream();
    let s = Sandbox::new();
    profile(&s, &format!("{}/v1", fake.base_url()), "openai", None);
    let elsewhere = s.dir.path().join("elsewhere");
    let o = s
        .cmd(&["models", "list", "--remote", "test"])
        .env("LIST_KEY", "sk-list-key")
        .env("AGENT_SHIM_CACHE_DIR", &elsewhere)
        .output()
        .unwrap();
    assert_ok("list", &o);
    assert!(cache_files(&s).is_empty());
    assert_eq!(
        std::fs::read_dir(elsewhere.join("models")).unwrap().count(),
        1
    );
}

#[test]
fn filters_choose_what_is_shown_and_all_shows_the_rest() {
    let fake = upstream();
    let s = Sandbox::new();
    profile(
        &s,
        &format!("{}/v1", fake.base_url()),
        "openai",
        Some("['big-*', '*-chat']"),
    );
    let v = list_json(&s, &["test"]);
    assert_eq!(v["model_api_filters"], json!(["big-*", "*-chat"]));
    let e = &v["endpoints"][0];
    let ids: Vec<&str> = e["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["big-coder", "small-chat"]);
    assert_eq!(e["excluded"], 1);

    let v = list_json(&s, &["test", "--all"]);
    let models = v["endpoints"][0]["models"].as_array().unwrap().clone();
    assert_eq!(models.len(), 3);
    let embed = models.iter().find(|m| m["id"] == "embed-1").unwrap();
    assert_eq!(embed["excluded"], true);
    assert_eq!(list_calls(&fake), 1, "filters apply to the cached list");

    let table = stdout(&list(&s, &["test"]));
    assert!(
        table.contains("2 of 3 models (1 excluded by model_api_filters; --all shows them)"),
        "{table}"
    );
    assert!(!table.contains("embed-1"), "{table}");
}

#[test]
fn empty_or_null_filters_turn_remote_loading_off() {
    for filters in ["[]", "null"] {
        let fake = upstream();
        let s = Sandbox::new();
        profile(
            &s,
            &format!("{}/v1", fake.base_url()),
            "openai",
            Some(filters),
        );
        let o = list(&s, &["test", "--all"]);
        assert_ok("list", &o);
        let out = stdout(&o);
        assert!(
            out.contains("remote model loading is off") && out.contains("model_api_filters"),
            "{filters}: {out}"
        );
        assert_eq!(list_calls(&fake), 0, "{filters}: nothing fetched");
        assert!(cache_files(&s).is_empty(), "{filters}: nothing cached");
    }
}

#[test]
fn anthropic_lists_with_its_headers() {
    let fake = upstream();
    let s = Sandbox::new();
    profile(&s, &fake.base_url(), "anthropic", None);
    let v = list_json(&s, &["test"]);
    let e = &v["endpoints"][0];
    assert_eq!(e["provider"], "anthropic");
    assert_eq!(e["models"].as_array().unwrap().len(), 3, "{v}");
    let req = fake.requests().into_iter().next().unwrap();
    assert_eq!(req.path, "/v1/models");
    assert_eq!(
        req.headers.get("x-api-key").map(String::as_str),
        Some("sk-list-key")
    );
    assert!(
        req.headers.contains_key("anthropic-version"),
        "{:?}",
        req.headers
    );
    assert!(!req.headers.contains_key("authorization"));
}

#[test]
fn anthropic_list_is_read_page_by_page() {
    let ids: Vec<String> = (1..=5).map(|i| format!("claude-{i}")).collect();
    let script = json!({"models": ids, "models_page_size": 2, "default": {"text": "hi"}});
    let fake = FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
    let s = Sandbox::new();
    profile(&s, &fake.base_url(), "anthropic", None);
    let v = list_json(&s, &["test"]);
    let got: Vec<&str> = v["endpoints"][0]["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids, "{v}");
    let queries: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.query.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        queries,
        [
            "limit=1000",
            "limit=1000&after_id=claude-2",
            "limit=1000&after_id=claude-4"
        ]
    );
}

#[test]
fn one_endpoint_down_does_not_hide_the_others() {
    let fake = upstream();
    let s = Sandbox::new();
    profile(&s, &format!("{}/v1", fake.base_url()), "openai", None);
    let down = format!("http://127.0.0.1:{}/v1", free_port());
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:\n  - model_name: coder\n    litellm_params:\n      model: openai/big-coder\n      \
             api_base: {}/v1\n      api_key: os.environ/LIST_KEY\n  - model_name: gone\n    litellm_params:\n      \
             model: openai/gone\n      api_base: {down}\n      api_key: sk-x\n",
            fake.base_url()
        ),
    );
    s.write_config(
        "profiles/test.yaml",
        "meta:\n  name: test\n  opus_model: coder\n  sonnet_model: coder\n  haiku_model: gone\n",
    );
    let o = list(&s, &["test"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("big-coder"), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("cannot fetch openai's model list") && err.contains(&down),
        "{err}"
    );
}

#[test]
fn wrong_key_names_where_the_key_comes_from_without_showing_it() {
    let fake = upstream();
    let s = Sandbox::new();
    profile(&s, &format!("{}/v1", fake.base_url()), "openai", None);
    let o = s
        .cmd(&["models", "list", "--remote", "test"])
        .env("LIST_KEY", "sk-wrong-key-123")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("401") && err.contains("LIST_KEY"), "{err}");
    assert!(!err.contains("sk-wrong-key-123"), "{err}");
    assert!(cache_files(&s).is_empty(), "a failed fetch caches nothing");
}

#[test]
fn providers_without_a_list_and_unknown_names_are_usage_errors() {
    let s = Sandbox::new();
    let o = s.run(&["models", "list", "--remote", "bedrock"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("ListFoundationModels"),
        "{}",
        stderr(&o)
    );
    let o = s.run(&["models", "list", "--remote", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("no such profile or provider") && err.contains("demo") && err.contains("groq"),
        "{err}"
    );
    let o = s.run(&["models", "list", "--remote", "demo"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("models 'demo/opus', 'demo/sonnet', 'demo/haiku' are on mock"),
        "{}",
        stderr(&o)
    );
    let o = s.run(&["models", "list", "--refresh"]);
    assert_eq!(o.status.code(), Some(2), "--refresh needs --remote");
}

//! What `agent-shim with <profile> -- crush|hermes …` generates, checked against the agents' own
//! documented configuration rules. Neither binary can be installed here, so `crush` and `hermes` on
//! PATH are stub scripts that dump their arguments, environment and the configuration the adapter
//! generated for them; the test parses those and checks them rule by rule (each rule cites where
//! it comes from), then uses the generated endpoint, key and model for a real request through the
//! gateway to a fake upstream. The user's own Crush and Hermes files must be merged (kept) and
//! stay byte-identical.
//!
//! Sources (GitHub):
//! - Crush: `charmbracelet/crush` `schema.json` (the JSON schema `$schema: https://charm.land/crush.json`
//!   names), `internal/config/config.go` (`ProviderConfig`, `SelectedModel`, `SelectedModelType`),
//!   `internal/config/load.go` (custom-provider validation, model selection, `GlobalConfig()`),
//!   `README.md` ("Custom Providers").
//! - Hermes Agent: `NousResearch/hermes-agent` `website/docs/user-guide/configuration.md`
//!   ("Directory Structure", "Environment Variable Substitution"),
//!   `website/docs/integrations/providers.md` ("Custom & Self-Hosted LLM Providers"),
//!   `hermes_cli/runtime_provider.py` (custom endpoint key and `api_mode` resolution),
//!   `hermes_constants.py` (`get_hermes_home`: `HERMES_HOME`, else `~/.hermes`).

use crate::claude_e2e::output_within;
use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

const UPSTREAM_KEY: &str = "sk-fake-upstream-configs";

/// A Chat Completions upstream answering every request, and a profile `test` whose opus and
/// sonnet tiers are `test-large` and haiku tier `test-small`, both there.
fn setup() -> (Sandbox, FakeProviderThread) {
    let script = json!({
        "protocols": ["openai-chat"],
        "api_key": UPSTREAM_KEY,
        "default": {"text": "Configured."}
    });
    let fake = FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
    let s = Sandbox::new();
    let base = fake.base_url();
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:
  - model_name: test-large
    litellm_params:
      model: openai/fake-large
      api_base: {base}/v1
      api_key: {UPSTREAM_KEY}
    model_info:
      context_window: 131072
      max_output_tokens: 16384
  - model_name: test-small
    litellm_params:
      model: openai/fake-small
      api_base: {base}/v1
      api_key: {UPSTREAM_KEY}
    model_info:
      context_window: 32768
      max_output_tokens: 4096
"
        ),
    );
    s.write_config(
        "profiles/test.yaml",
        "meta:\n  name: test\n  opus_model: test-large\n  sonnet_model: test-large\n  haiku_model: test-small\n",
    );
    (s, fake)
}

/// What a stub agent saw.
struct Dump {
    dir: PathBuf,
    env: BTreeMap<String, String>,
    args: Vec<String>,
}

impl Dump {
    fn var(&self, name: &str) -> &str {
        self.env
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the agent's environment: {:?}", self.env))
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name))
            .unwrap_or_else(|e| panic!("the stub did not dump {name}: {e}"))
    }
}

/// Runs `agent-shim with test -- <agent> --stub-arg` where `agent` is a stub script (on PATH, in a
/// fresh bin directory) that dumps its environment and arguments and copies `files` (shell
/// expressions expanded by the stub's shell) into a dump directory.
fn launch(s: &Sandbox, agent: &str, files: &[&str], env: &[(&str, &Path)]) -> Dump {
    static LAUNCHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = LAUNCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = s.dir.path().join(format!("stub-{agent}-{n}"));
    let bin = root.join("bin");
    let dump = root.join("dump");
    std::fs::create_dir_all(&bin).unwrap();
    let copies: String = files
        .iter()
        .map(|f| format!("cp \"{f}\" \"$d/\"\n"))
        .collect();
    let stub = bin.join(agent);
    std::fs::write(
        &stub,
        format!(
            "#!/bin/sh\nset -e\nd='{}'\nmkdir -p \"$d\"\nenv > \"$d/env\"\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$d/args\"\n{copies}",
            dump.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = s.cmd(&["with", "test", "--", agent, "--stub-arg"]);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env("PATH", path).stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = output_within(cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "agent-shim with test -- {agent} failed ({:?}): {}{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    // `env` prints NAME=value lines; only single-line values matter here.
    let env = std::fs::read_to_string(dump.join("env"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let args = std::fs::read_to_string(dump.join("args"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    Dump {
        dir: dump,
        env,
        args,
    }
}

/// Every regular file under `dir` (symbolic links are not followed: they are the user's).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(files_under(&e.path()));
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    out
}

/// Nothing agent-shim generated holds the gateway's key in clear.
fn assert_no_key_on_disk(s: &Sandbox, key: &str) {
    let generated = files_under(&s.state_dir().join("agents"));
    assert!(!generated.is_empty(), "generated files under the state dir");
    for f in generated {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(key),
            "{} holds the gateway's key in clear",
            f.display()
        );
    }
}

/// POSTs a one-message Chat Completions request the way an OpenAI-compatible client configured
/// with (`base_url`, `key`, `model`) does; returns the status and body.
fn chat_via(base_url: &str, key: &str, model: &str) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!(
                "{}/chat/completions",
                base_url.trim_end_matches('/')
            ))
            .bearer_auth(key)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    })
}

/// The variable a `$VAR` / `${VAR}` reference names.
fn var_ref(v: &str) -> Option<&str> {
    let name = v
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .or_else(|| v.strip_prefix('$'))?;
    let mut chars = name.chars();
    let first = chars.next()?;
    ((first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then_some(name)
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// The keys of `v` are all in `allowed` (a schema with `additionalProperties: false`).
fn assert_keys_within(v: &Value, allowed: &[&str], what: &str) {
    let extra: Vec<&str> = keys(v)
        .into_iter()
        .filter(|k| !allowed.contains(k))
        .collect();
    assert!(
        extra.is_empty(),
        "{what}: keys not in the schema: {extra:?} in {v}"
    );
}

// ---- Crush ----------------------------------------------------------------------------------

/// charmbracelet/crush schema.json `$defs.Config.properties` (`additionalProperties: false`).
const CRUSH_CONFIG_KEYS: &[&str] = &[
    "$schema",
    "models",
    "providers",
    "mcp",
    "lsp",
    "options",
    "permissions",
    "tools",
    "hooks",
    "env",
];

/// charmbracelet/crush schema.json `$defs.ProviderConfig.properties` (`additionalProperties:
/// false`), plus `disable_tools` from internal/config/config.go `ProviderConfig`.
const CRUSH_PROVIDER_KEYS: &[&str] = &[
    "id",
    "name",
    "base_url",
    "type",
    "api_key",
    "oauth",
    "disable",
    "disable_tools",
    "system_prompt_prefix",
    "extra_headers",
    "extra_body",
    "provider_options",
    "aws_auth_refresh",
    "flat_rate",
    "discover_models",
    "models",
];

/// charmbracelet/crush schema.json `$defs.ProviderConfig.properties.type.enum`.
const CRUSH_PROVIDER_TYPES: &[&str] = &[
    "openai",
    "openai-compat",
    "openrouter",
    "vercel",
    "anthropic",
    "google",
    "azure",
    "bedrock",
    "google-vertex",
    "hyper",
    "litellm",
    "llamacpp",
    "lmstudio",
    "ollama",
    "omlx",
];

/// The types a custom (non-catwalk) provider may have: internal/config/load.go
/// `configureProviders` keeps only OpenAI-style and Anthropic ones, and README.md "Custom
/// Providers" documents `openai`, `openai-compat` (non-OpenAI OpenAI-compatible APIs) and
/// `anthropic`.
const CRUSH_CUSTOM_TYPES: &[&str] = &["openai", "openai-compat", "anthropic"];

/// charmbracelet/crush schema.json `$defs.Model.properties` (`additionalProperties: false`).
const CRUSH_MODEL_KEYS: &[&str] = &[
    "id",
    "name",
    "cost_per_1m_in",
    "cost_per_1m_out",
    "cost_per_1m_in_cached",
    "cost_per_1m_out_cached",
    "context_window",
    "default_max_tokens",
    "can_reason",
    "reasoning_levels",
    "default_reasoning_effort",
    "supports_attachments",
    "options",
];

/// charmbracelet/crush schema.json `$defs.SelectedModel.properties` (`additionalProperties:
/// false`; `model` and `provider` required).
const CRUSH_SELECTED_KEYS: &[&str] = &[
    "model",
    "provider",
    "reasoning_effort",
    "think",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "frequency_penalty",
    "presence_penalty",
    "provider_options",
];

/// Checks one provider entry against schema.json `ProviderConfig` (keys and their types).
fn check_crush_provider(id: &str, p: &Value) {
    let what = format!("providers.{id}");
    assert_keys_within(p, CRUSH_PROVIDER_KEYS, &what);
    for k in [
        "id",
        "name",
        "base_url",
        "type",
        "api_key",
        "system_prompt_prefix",
    ] {
        if let Some(v) = p.get(k) {
            assert!(v.is_string(), "{what}.{k} must be a string: {v}");
        }
    }
    for k in ["disable", "disable_tools", "flat_rate", "discover_models"] {
        if let Some(v) = p.get(k) {
            assert!(v.is_boolean(), "{what}.{k} must be a boolean: {v}");
        }
    }
    if let Some(t) = p.get("type").and_then(Value::as_str) {
        assert!(
            CRUSH_PROVIDER_TYPES.contains(&t),
            "{what}.type {t:?} is not in schema.json's enum"
        );
    }
    if let Some(models) = p.get("models") {
        let models = models
            .as_array()
            .unwrap_or_else(|| panic!("{what}.models must be an array: {models}"));
        for (i, m) in models.iter().enumerate() {
            let what = format!("{what}.models[{i}]");
            assert_keys_within(m, CRUSH_MODEL_KEYS, &what);
            // `id` is what requests carry and what `models.large.model` names (schema.json
            // `Model.required`; load.go `GetModel` looks models up by it).
            let mid = m["id"].as_str().unwrap_or("");
            assert!(!mid.is_empty(), "{what}.id must be a non-empty string: {m}");
            if let Some(n) = m.get("name") {
                assert!(n.is_string(), "{what}.name must be a string: {m}");
            }
            for k in ["context_window", "default_max_tokens"] {
                if let Some(v) = m.get(k) {
                    assert!(
                        v.is_u64() && v.as_u64() > Some(0),
                        "{what}.{k} must be a positive integer (schema.json: integer): {m}"
                    );
                }
            }
            for k in [
                "cost_per_1m_in",
                "cost_per_1m_out",
                "cost_per_1m_in_cached",
                "cost_per_1m_out_cached",
            ] {
                if let Some(v) = m.get(k) {
                    assert!(v.is_number(), "{what}.{k} must be a number: {m}");
                }
            }
            for k in ["can_reason", "supports_attachments"] {
                if let Some(v) = m.get(k) {
                    assert!(v.is_boolean(), "{what}.{k} must be a boolean: {m}");
                }
            }
        }
    }
}

/// The model ids of provider `p`.
fn model_ids(p: &Value) -> Vec<&str> {
    p["models"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["id"].as_str()).collect())
        .unwrap_or_default()
}

/// Checks a whole generated `crush.json` and returns the `agent-shim` provider.
fn check_crush_config(cfg: &Value, d: &Dump, s: &Sandbox) -> Value {
    assert_keys_within(cfg, CRUSH_CONFIG_KEYS, "crush.json");
    let providers = cfg["providers"]
        .as_object()
        .unwrap_or_else(|| panic!("providers must be an object: {cfg}"));
    for (id, p) in providers {
        check_crush_provider(id, p);
    }
    let ours = cfg["providers"]["agent-shim"].clone();
    assert!(ours.is_object(), "an agent-shim provider: {cfg}");
    // A custom provider is dropped unless its type is a custom one, it has a base URL and at
    // least one model (load.go `configureProviders`).
    let t = ours["type"].as_str().unwrap_or("openai");
    assert!(CRUSH_CUSTOM_TYPES.contains(&t), "custom provider type {t}");
    // Through the gateway Crush speaks Chat Completions: `openai-compat` is the type for
    // non-OpenAI OpenAI-compatible APIs (README.md "Custom Providers").
    assert_eq!(t, "openai-compat", "{ours}");
    // `base_url` is the API root requests are joined onto (schema.json example
    // `https://api.openai.com/v1`): the gateway's, with /v1.
    assert_eq!(ours["base_url"], format!("{}/v1", s.base_url()), "{ours}");
    let ids = model_ids(&ours);
    assert!(!ids.is_empty(), "models listed: {ours}");
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "model ids are unique: {ids:?}");
    assert_eq!(
        unique,
        BTreeSet::from(["test-large", "test-small"]),
        "the profile's models, by the gateway's model names"
    );
    let large = ours["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "test-large")
        .unwrap();
    assert_eq!(large["context_window"], 131072, "{large}");
    assert_eq!(large["default_max_tokens"], 16384, "{large}");
    // `api_key` is a `$VAR` reference (schema.json example `$OPENAI_API_KEY`; README.md
    // `"api_key": "$DEEPSEEK_API_KEY"`) resolved from the environment by Crush's shell variable
    // resolver (load.go `NewShellVariableResolver`): the variable must be set, to the key.
    let api_key = ours["api_key"].as_str().unwrap_or("");
    let var =
        var_ref(api_key).unwrap_or_else(|| panic!("api_key {api_key:?} is not a $VAR reference"));
    assert_eq!(
        d.var(var),
        master_key(s),
        "{var} holds the gateway's master key"
    );

    // `models` maps a SelectedModelType (config.go: `large`, `small`) to a SelectedModel whose
    // `model` and `provider` are required (schema.json) and must name a configured provider and
    // one of its models, or load.go `configureSelectedModels` silently falls back to a default.
    let selected = &cfg["models"];
    assert_keys_within(selected, &["large", "small"], "models");
    for tier in ["large", "small"] {
        let sm = &selected[tier];
        assert_keys_within(sm, CRUSH_SELECTED_KEYS, &format!("models.{tier}"));
        let provider = sm["provider"]
            .as_str()
            .unwrap_or_else(|| panic!("models.{tier}.provider: {sm}"));
        let model = sm["model"]
            .as_str()
            .unwrap_or_else(|| panic!("models.{tier}.model: {sm}"));
        let p = providers
            .get(provider)
            .unwrap_or_else(|| panic!("models.{tier}.provider {provider} is not configured"));
        assert!(
            model_ids(p).contains(&model),
            "models.{tier}.model {model} is not a model of {provider}: {p}"
        );
    }
    assert_eq!(selected["large"]["provider"], "agent-shim");
    assert_eq!(selected["large"]["model"], "test-large", "the sonnet tier");
    assert_eq!(selected["small"]["provider"], "agent-shim");
    assert_eq!(selected["small"]["model"], "test-small", "the haiku tier");
    ours
}

/// Crush's global config is `$CRUSH_GLOBAL_CONFIG/crush.json` (load.go `GlobalConfig()` joins
/// `crush.json` onto the directory); its data `$CRUSH_GLOBAL_DATA`. Returns the parsed config.
fn crush_launch(s: &Sandbox, env: &[(&str, &Path)]) -> (Dump, Value) {
    let d = launch(s, "crush", &["$CRUSH_GLOBAL_CONFIG/crush.json"], env);
    assert_eq!(d.args, ["--stub-arg"], "the user's arguments, unchanged");
    let dir = PathBuf::from(d.var("CRUSH_GLOBAL_CONFIG"));
    assert!(dir.is_dir(), "CRUSH_GLOBAL_CONFIG is a directory");
    assert!(
        dir.starts_with(s.state_dir()),
        "generated under the state dir: {}",
        dir.display()
    );
    let data = PathBuf::from(d.var("CRUSH_GLOBAL_DATA"));
    assert!(data.is_dir(), "CRUSH_GLOBAL_DATA is a directory");
    assert_ne!(data, s.home().join(".local/share/crush"));
    let text = d.file("crush.json");
    assert_eq!(
        text,
        std::fs::read_to_string(dir.join("crush.json")).unwrap(),
        "the file Crush reads"
    );
    let cfg: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("crush.json: {e}: {text}"));
    (d, cfg)
}

#[test]
fn crush_gets_a_schema_valid_global_config_for_the_gateway() {
    let (s, fake) = setup();
    let (d, cfg) = crush_launch(&s, &[]);
    println!("generated crush.json: {cfg:#}");
    let ours = check_crush_config(&cfg, &d, &s);
    assert_eq!(cfg["$schema"], "https://charm.land/crush.json");
    let key = master_key(&s);
    assert!(
        !d.file("crush.json").contains(&key),
        "the key is referenced, not written"
    );
    assert_no_key_on_disk(&s, &key);

    // What Crush would do with it: an OpenAI-compatible request to base_url, with the resolved
    // key, for the large model, reaches the upstream through the gateway.
    let var = var_ref(ours["api_key"].as_str().unwrap()).unwrap();
    let (status, body) = chat_via(
        ours["base_url"].as_str().unwrap(),
        d.var(var),
        cfg["models"]["large"]["model"].as_str().unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "Configured.");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].body["model"], "fake-large");
}

/// A user's global crush.json with a provider of their own and options.
const USER_CRUSH: &str = r#"{
  "$schema": "https://charm.land/crush.json",
  "providers": {
    "my-ollama": {
      "name": "My Ollama",
      "type": "openai-compat",
      "base_url": "http://localhost:11434/v1/",
      "models": [{"id": "llama3", "name": "Llama 3", "context_window": 8192}]
    }
  },
  "options": {"debug": true, "context_paths": ["NOTES.md"], "tui": {"compact_mode": true}},
  "permissions": {"allowed_tools": ["view", "ls"]}
}
"#;

fn assert_user_crush_merged(cfg: &Value) {
    let user: Value = serde_json::from_str(USER_CRUSH).unwrap();
    assert_eq!(
        cfg["providers"]["my-ollama"], user["providers"]["my-ollama"],
        "the user's provider is kept"
    );
    assert_eq!(
        cfg["options"], user["options"],
        "the user's options are kept"
    );
    assert_eq!(cfg["permissions"], user["permissions"]);
    assert!(cfg["providers"]["agent-shim"].is_object());
}

#[test]
fn crush_merges_the_users_global_config_and_leaves_it_unchanged() {
    let (s, _fake) = setup();
    let user = s.home().join(".config/crush/crush.json");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, USER_CRUSH).unwrap();
    let (d, cfg) = crush_launch(&s, &[]);
    check_crush_config(&cfg, &d, &s);
    assert_user_crush_merged(&cfg);
    assert_ne!(
        Path::new(d.var("CRUSH_GLOBAL_CONFIG")),
        user.parent().unwrap(),
        "the user's directory is not Crush's config directory for the launch"
    );
    assert_eq!(
        std::fs::read_to_string(&user).unwrap(),
        USER_CRUSH,
        "the user's crush.json is byte-identical"
    );
    assert_eq!(
        std::fs::read_dir(user.parent().unwrap()).unwrap().count(),
        1,
        "nothing added next to it"
    );

    // A second launch regenerates the same file.
    let (_, again) = crush_launch(&s, &[]);
    assert_eq!(again, cfg);
}

#[test]
fn crush_reads_the_users_config_from_their_crush_global_config() {
    let (s, _fake) = setup();
    let dir = s.dir.path().join("my-crush-config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("crush.json"), USER_CRUSH).unwrap();
    let (d, cfg) = crush_launch(&s, &[("CRUSH_GLOBAL_CONFIG", &dir)]);
    check_crush_config(&cfg, &d, &s);
    assert_user_crush_merged(&cfg);
    assert_ne!(Path::new(d.var("CRUSH_GLOBAL_CONFIG")), dir.as_path());
    assert_eq!(
        std::fs::read_to_string(dir.join("crush.json")).unwrap(),
        USER_CRUSH
    );
}

#[test]
fn crush_user_model_selection_overrides_do_not_leak_into_the_gateway_models() {
    // SelectedModel's `max_tokens`, `reasoning_effort`, `think`, … "override the default model
    // configuration" of the model it selects (config.go `SelectedModel`; load.go
    // `configureSelectedModels` applies them to whatever model/provider ends up selected). The
    // user's overrides were chosen for their own model; once agent-shim selects its models, they
    // must not carry over.
    let (s, _fake) = setup();
    let user = s.home().join(".config/crush/crush.json");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    let mut with_selection: Value = serde_json::from_str(USER_CRUSH).unwrap();
    with_selection["models"] = json!({
        "large": {"model": "llama3", "provider": "my-ollama", "max_tokens": 1000, "think": true, "temperature": 0.2},
        "small": {"model": "llama3", "provider": "my-ollama", "reasoning_effort": "high"}
    });
    let text = serde_json::to_string_pretty(&with_selection).unwrap();
    std::fs::write(&user, &text).unwrap();
    let (d, cfg) = crush_launch(&s, &[]);
    check_crush_config(&cfg, &d, &s);
    assert_eq!(std::fs::read_to_string(&user).unwrap(), text);
    assert_eq!(
        cfg["models"],
        json!({
            "large": {"model": "test-large", "provider": "agent-shim"},
            "small": {"model": "test-small", "provider": "agent-shim"}
        }),
        "the user's per-model overrides for llama3 were merged into agent-shim's selection"
    );
}

// ---- Hermes ---------------------------------------------------------------------------------

/// hermes_cli/runtime_provider.py `_VALID_API_MODES`.
const HERMES_API_MODES: &[&str] = &[
    "chat_completions",
    "codex_responses",
    "anthropic_messages",
    "bedrock_converse",
    "codex_app_server",
];

fn parse_yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("config.yaml: {e}:\n{text}"))
}

/// Checks the generated Hermes `config.yaml` and returns its `model` block.
fn check_hermes_config(cfg: &Value, d: &Dump, s: &Sandbox) -> Value {
    assert!(cfg.is_object(), "a mapping: {cfg}");
    let m = cfg["model"].clone();
    assert!(m.is_object(), "a model block: {cfg}");
    // A custom OpenAI-compatible endpoint: `provider: custom` with `base_url`, `api_key` and the
    // model as `default` (providers.md "Custom & Self-Hosted LLM Providers", manual config).
    assert_eq!(m["provider"], "custom", "{m}");
    assert_eq!(m["base_url"], format!("{}/v1", s.base_url()), "{m}");
    // `default` (or its alias `model`, providers.md "Model key alias") is the model id sent.
    assert_eq!(m["default"], "test-large", "the sonnet tier: {m}");
    assert!(m.get("model").is_none(), "no conflicting alias: {m}");
    // For a custom endpoint the key comes from `model.api_key` (runtime_provider.py: the
    // `cfg_api_key` candidate; OPENAI_API_KEY is only used for api.openai.com hosts), and
    // config.yaml expands `${VAR}` only — "Bare `$VAR` is not expanded" (configuration.md
    // "Environment Variable Substitution").
    let api_key = m["api_key"].as_str().unwrap_or("");
    assert!(
        api_key.starts_with("${") && api_key.ends_with('}'),
        "api_key {api_key:?} is not a ${{VAR}} reference"
    );
    let var = var_ref(api_key).unwrap_or_else(|| panic!("api_key {api_key:?}"));
    // "If a referenced variable is not set, the placeholder is kept verbatim" — so it must be set.
    assert_eq!(d.var(var), master_key(s), "{var} holds the gateway's key");
    // `context_length` is an integer token count (providers.md: `context_length: 32768`).
    assert!(m["context_length"].is_u64(), "context_length: {m}");
    assert_eq!(m["context_length"], 131072, "the model's context window");
    // `api_mode`, when given, must be one Hermes knows (else it is ignored), and the gateway is
    // reached with Chat Completions, which Hermes would also pick for a `/v1` URL
    // (runtime_provider.py `_detect_api_mode_for_url`).
    if let Some(mode) = m.get("api_mode") {
        let mode = mode.as_str().unwrap_or("");
        assert!(HERMES_API_MODES.contains(&mode), "api_mode {mode}");
        assert_eq!(mode, "chat_completions");
    }
    m
}

/// Hermes reads `$HERMES_HOME/config.yaml` (hermes_constants.py `get_hermes_home`).
fn hermes_launch(s: &Sandbox) -> (Dump, Value) {
    let d = launch(s, "hermes", &["$HERMES_HOME/config.yaml"], &[]);
    assert_eq!(d.args, ["--stub-arg"]);
    let home = PathBuf::from(d.var("HERMES_HOME"));
    assert!(home.is_dir(), "HERMES_HOME is a directory");
    assert!(home.starts_with(s.state_dir()), "{}", home.display());
    let text = d.file("config.yaml");
    let on_disk = home.join("config.yaml");
    assert!(
        !on_disk.symlink_metadata().unwrap().file_type().is_symlink(),
        "config.yaml is our own file, not a link to the user's"
    );
    assert_eq!(text, std::fs::read_to_string(on_disk).unwrap());
    println!("generated config.yaml:\n{text}");
    (d, parse_yaml(&text))
}

#[test]
fn hermes_gets_a_custom_endpoint_config_for_the_gateway() {
    let (s, fake) = setup();
    let (d, cfg) = hermes_launch(&s);
    let m = check_hermes_config(&cfg, &d, &s);
    let key = master_key(&s);
    assert!(
        !d.file("config.yaml").contains(&key),
        "the key is referenced, not written"
    );
    assert_no_key_on_disk(&s, &key);

    // What Hermes would send: Chat Completions to base_url with the expanded key.
    let var = var_ref(m["api_key"].as_str().unwrap()).unwrap();
    let (status, body) = chat_via(
        m["base_url"].as_str().unwrap(),
        d.var(var),
        m["default"].as_str().unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(fake.requests().len(), 1);
}

const USER_HERMES_CONFIG: &str = "model:
  default: anthropic/claude-opus-4
  provider: openrouter
  base_url: https://openrouter.ai/api/v1
terminal:
  backend: local
  timeout: 180
memory:
  memory_enabled: true
  user_profile_enabled: false
toolsets:
  - web
  - terminal
";

#[test]
fn hermes_keeps_the_users_config_and_home_entries_and_leaves_them_unchanged() {
    let (s, _fake) = setup();
    // The user's Hermes home (configuration.md "Directory Structure").
    let user = s.home().join(".hermes");
    let files: &[(&str, &str)] = &[
        ("config.yaml", USER_HERMES_CONFIG),
        (".env", "OPENROUTER_API_KEY=sk-or-user-secret\n"),
        ("SOUL.md", "You are terse.\n"),
        ("memories/MEMORY.md", "The user prefers tabs.\n"),
        (
            "skills/deploy/SKILL.md",
            "---\nname: deploy\n---\nRun make deploy.\n",
        ),
    ];
    for (rel, text) in files {
        let p = user.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let listing = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let before = listing(&user);

    let (d, cfg) = hermes_launch(&s);
    let m = check_hermes_config(&cfg, &d, &s);
    // The model block is ours as a whole: nothing of the user's OpenRouter endpoint is left.
    assert!(
        !serde_json::to_string(&m).unwrap().contains("openrouter"),
        "{m}"
    );
    let user_cfg = parse_yaml(USER_HERMES_CONFIG);
    for k in ["terminal", "memory", "toolsets"] {
        assert_eq!(cfg[k], user_cfg[k], "the user's `{k}` is kept");
    }
    assert_eq!(
        keys(&cfg),
        BTreeSet::from(["model", "terminal", "memory", "toolsets"])
    );

    // Everything else of the user's home is linked into the generated one.
    let home = PathBuf::from(d.var("HERMES_HOME"));
    for entry in [".env", "SOUL.md", "memories", "skills"] {
        let link = home.join(entry);
        let meta = link
            .symlink_metadata()
            .unwrap_or_else(|e| panic!("{entry} is not in HERMES_HOME: {e}"));
        assert!(meta.file_type().is_symlink(), "{entry} is a link");
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            user.join(entry),
            "{entry} links to the user's"
        );
    }
    assert_eq!(
        std::fs::read_to_string(home.join("memories/MEMORY.md")).unwrap(),
        "The user prefers tabs.\n"
    );
    assert!(home.join("skills/deploy/SKILL.md").is_file());
    assert_eq!(
        listing(&home),
        BTreeSet::from(["config.yaml", ".env", "SOUL.md", "memories", "skills"].map(String::from)),
        "the generated home holds our config and the user's entries, nothing else"
    );

    // A second launch is the same, and the user's files are byte-identical throughout.
    let (_, again) = hermes_launch(&s);
    assert_eq!(again, cfg);
    for (rel, text) in files {
        assert_eq!(
            std::fs::read_to_string(user.join(rel)).unwrap(),
            *text,
            "{rel} is unchanged"
        );
    }
    assert_eq!(listing(&user), before, "nothing added to the user's home");
    assert_no_key_on_disk(&s, &master_key(&s));
}

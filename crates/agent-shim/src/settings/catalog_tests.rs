//! Unit tests of the catalogue's loading and overlay ([`super`]).

use super::*;
use crate::cli::NetArgs;

/// Settings with the config and state dirs under `dir`, nothing else set.
pub(super) fn settings(dir: &std::path::Path) -> Settings {
    let cfg = dir.join("cfg").display().to_string();
    let state = dir.join("state").display().to_string();
    Settings::resolve(&NetArgs::default(), None, &|k| match k {
        "AGENT_SHIM_CONFIG_DIR" => Some(cfg.clone()),
        "AGENT_SHIM_STATE_DIR" => Some(state.clone()),
        _ => None,
    })
    .unwrap()
}

#[test]
fn every_builtin_profile_resolves_to_builtin_models() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let profiles = load_profiles(&s).unwrap();
    let models = load_models(&s).unwrap();
    // Azure's endpoint is the user's resource: the one variable a definition needs.
    let env: std::collections::HashMap<String, String> = [(
        "AZURE_API_BASE".to_owned(),
        "https://res.openai.azure.com".to_owned(),
    )]
    .into();
    for required in [
        "anthropic",
        "openai",
        "azure",
        "cerebras",
        "cerebras2",
        "groq",
        "groq2",
        "deepseek",
        "mistral",
        "gemini",
        "grok",
        "openrouter",
        "local",
        "multi",
        "demo",
    ] {
        let p = profile(&profiles, required).unwrap();
        let defs = profile_models(&models, required, p).unwrap();
        assert!(!defs.is_empty());
        for d in defs {
            gateway::Deployment::new(d, gateway::Origin::Config, &env)
                .unwrap_or_else(|e| panic!("built-in profile {required}: {e}"));
        }
    }
    let e = profile(&profiles, "nope").unwrap_err().to_string();
    assert!(
        e.contains("unknown profile 'nope'") && e.contains("cerebras"),
        "{e}"
    );
}

#[test]
fn user_files_override_by_name_and_disabled_falls_through() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    std::fs::create_dir_all(s.config_dir.join("profiles")).unwrap();
    std::fs::write(
        s.config_dir.join("models.yaml"),
        "model_list:\n  - model_name: demo/opus\n    litellm_params:\n      model: mock/x\n      mock_response: mine\n",
    )
    .unwrap();
    std::fs::write(
        s.config_dir.join("profiles/groq.yaml"),
        "meta:\n  name: My Groq\n  opus_model: a\n  sonnet_model: b\n  haiku_model: c\n",
    )
    .unwrap();
    std::fs::write(
        s.config_dir.join("profiles/cerebras.yaml"),
        "disabled: true\n",
    )
    .unwrap();
    // Seed 001's way: `model: null`.
    std::fs::write(
        s.config_dir.join("profiles/mistral.yaml"),
        "model: null\nmeta:\n  name: Old\n  opus_model: a\n  sonnet_model: b\n  haiku_model: c\n",
    )
    .unwrap();
    let models = load_models(&s).unwrap();
    let opus: Vec<_> = models
        .iter()
        .filter(|m| m.item.model_name == "demo/opus")
        .collect();
    assert_eq!(opus.len(), 1);
    assert_eq!(
        opus[0].item.litellm_params.mock_response.as_deref(),
        Some("mine")
    );
    assert_eq!(
        opus[0].source,
        Source::File(s.config_dir.join("models.yaml"))
    );
    let profiles = load_profiles(&s).unwrap();
    assert_eq!(profiles["groq"].item.name, "My Groq");
    assert_eq!(profiles["cerebras"].source, Source::BuiltIn);
    assert_eq!(profiles["mistral"].source, Source::BuiltIn);
    assert_ne!(profiles["mistral"].item.name, "Old");
    std::fs::write(s.config_dir.join("profiles/mistral.yaml"), "model: x\n").unwrap();
    let e = load_profiles(&s).unwrap_err().to_string();
    assert!(
        e.contains("mistral.yaml: a profile's top-level `model:` only takes null"),
        "{e}"
    );
    let e = profile_models(&models, "groq", &profiles["groq"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("uses model 'a'") && e.contains("profiles/groq.yaml"),
        "{e}"
    );
}

/// The seed's openClaude routing (seeds/003) as the built-in `bedrock` profile. Serving it
/// needs the gateway's `bedrock` provider; until that is in the provider table the
/// definitions fail only as an unknown provider.
#[test]
fn builtin_bedrock_profile_mirrors_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let profiles = load_profiles(&s).unwrap();
    let p = &profile(&profiles, "bedrock").unwrap().item;
    assert_eq!(
        (
            p.opus_model.as_str(),
            p.sonnet_model.as_str(),
            p.haiku_model.as_str()
        ),
        ("claude-opus-4-6", "claude-sonnet-4-5", "qwen3-coder")
    );
    assert!(p.isolated);
    assert_eq!(
        p.context_1m,
        Some(Context1m::Tiers(vec![Tier::Opus, Tier::Sonnet]))
    );
    assert_eq!(p.aws_auth_refresh.as_deref(), Some("aws sso login"));
    assert_eq!(p.agent.as_deref(), Some("claude"));
    let models = load_models(&s).unwrap();
    let defs = profile_models(&models, "bedrock", &profiles["bedrock"]).unwrap();
    let upstream: Vec<&str> = defs
        .iter()
        .map(|d| d.litellm_params.model.as_str())
        .collect();
    assert_eq!(
        upstream,
        [
            "bedrock/us.anthropic.claude-opus-4-6-v1",
            "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "bedrock/converse/qwen.qwen3-coder-480b-a35b-v1:0"
        ]
    );
    for d in &defs {
        let other = &d.litellm_params.other;
        assert_eq!(other["aws_region_name"], "os.environ/AWS_REGION", "{d:?}");
        assert_eq!(other["aws_profile_name"], "os.environ/AWS_PROFILE", "{d:?}");
        match gateway::Deployment::new(
            d.clone(),
            gateway::Origin::Config,
            &std::collections::HashMap::new(),
        ) {
            Ok(dep) => assert_eq!(dep.provider.name, "bedrock"),
            Err(e) => assert!(
                e.to_string().contains("unknown provider 'bedrock'"),
                "{}: {e}",
                d.model_name
            ),
        }
    }
    let window = |n: &str| {
        defs.iter()
            .find(|d| d.model_name == n)
            .and_then(|d| d.model_info.context_window)
    };
    assert_eq!(window("claude-opus-4-6"), Some(1_000_000));
    assert_eq!(window("claude-sonnet-4-5"), Some(1_000_000));
    assert!(!p.tier_is_1m(Tier::Haiku, window("qwen3-coder")));
}

/// The user's own subscription through the `claude` CLI (DESIGN.md §4.6): the CLI's tier
/// aliases on the `claude-code` provider, which reads no key.
#[test]
fn builtin_claude_subscription_profile_runs_the_cli_with_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let profiles = load_profiles(&s).unwrap();
    let p = profile(&profiles, "claude-subscription").unwrap();
    let defs = profile_models(&load_models(&s).unwrap(), "claude-subscription", p).unwrap();
    assert_eq!(defs.len(), 3, "{defs:?}");
    for (d, tier) in defs.into_iter().zip(["opus", "sonnet", "haiku"]) {
        let m = format!("claude-code/{tier}");
        assert_eq!((&d.model_name, &d.litellm_params.model), (&m, &m));
        assert!(d.litellm_params.api_key.is_none(), "{d:?}");
        let dep = gateway::Deployment::new(
            d,
            gateway::Origin::Config,
            &std::collections::HashMap::new(),
        )
        .unwrap();
        assert_eq!(dep.provider.name, "claude-code");
        assert!(dep.provider.key_env.is_none() && matches!(dep.key, gateway::ApiKey::None));
    }
    assert!(p.item.agent.is_none() && !p.item.isolated, "{:?}", p.item);
}

#[test]
fn context_1m_is_true_false_or_a_list_of_tiers() {
    let parse = |v: &str| {
        yaml::parse::<ProfileFile>(
            &format!("meta:\n  name: x\n  opus_model: a\n  sonnet_model: b\n  haiku_model: c\n  context_1m: {v}\n"),
            "p.yaml",
        )
        .map(|f| f.meta.unwrap())
    };
    let p = parse("true").unwrap();
    assert!(p.tier_is_1m(Tier::Opus, None) && p.tier_is_1m(Tier::Sonnet, Some(1)));
    assert!(!p.tier_is_1m(Tier::Haiku, Some(2_000_000)));
    let p = parse("false").unwrap();
    assert!(!p.tier_is_1m(Tier::Opus, Some(2_000_000)));
    let p = parse("[haiku]").unwrap();
    assert!(p.tier_is_1m(Tier::Haiku, None) && !p.tier_is_1m(Tier::Opus, Some(1_000_000)));
    // Unset: by the model's declared window.
    let p = parse("null").unwrap();
    assert!(p.tier_is_1m(Tier::Opus, Some(1_000_000)));
    assert!(!p.tier_is_1m(Tier::Opus, Some(999_999)) && !p.tier_is_1m(Tier::Opus, None));
    let e = parse("[opus, big]").unwrap_err().to_string();
    assert!(
        e.starts_with("p.yaml:6:") && e.contains("context_1m"),
        "{e}"
    );
    let e = parse("yes please").unwrap_err().to_string();
    assert!(
        e.contains("true, false, or a list of tiers (opus, sonnet, haiku)"),
        "{e}"
    );
}

#[test]
fn a_broken_user_file_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    std::fs::create_dir_all(&s.config_dir).unwrap();
    std::fs::write(
        s.config_dir.join("models.yaml"),
        "model_list:\n  - model_name: x\n    litellm_param:\n      model: y\n",
    )
    .unwrap();
    let e = load_models(&s).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}:3:5:",
            s.config_dir.join("models.yaml").display()
        )),
        "{e}"
    );
}

#[test]
fn router_rules_load_and_their_models_count_as_the_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let write_profile = |s: &Settings, name: &str, text: &str| {
        std::fs::create_dir_all(s.config_dir.join("profiles")).unwrap();
        std::fs::write(s.config_dir.join(format!("profiles/{name}.yaml")), text).unwrap();
    };
    write_profile(
        &s,
        "coder",
        "meta:\n  name: Coder\n  opus_model: a\n  sonnet_model: b\n  haiku_model: c\n  router:\n    background: bg\n    long_context: long\n    long_context_threshold: 5000\n    think: b\n",
    );
    let profiles = load_profiles(&s).unwrap();
    let p = &profiles["coder"].item;
    assert_eq!(p.model_names(), ["a", "b", "c", "bg", "long"]);
    let tiers = p.tiers();
    let rules = tiers.router.unwrap();
    assert_eq!(rules.background.as_deref(), Some("bg"));
    assert_eq!(rules.threshold(), 5000);
    // claude-code-router's camelCase names are refused, naming the key.
    write_profile(
        &s,
        "ccr",
        "meta:\n  name: C\n  opus_model: a\n  sonnet_model: b\n  haiku_model: c\n  router:\n    longContext: long\n",
    );
    let e = load_profiles(&s).unwrap_err().to_string();
    assert!(e.contains("longContext"), "{e}");
}

/// Everything a definition holds, keys included (its `Serialize` shows them redacted).
fn full(m: &Sourced<ModelDefinition>) -> (serde_json::Value, Option<String>, String) {
    (
        serde_json::to_value(&m.item).unwrap(),
        m.item
            .litellm_params
            .api_key
            .as_ref()
            .map(|k| k.expose().to_owned()),
        m.source.to_string(),
    )
}

/// The hook path's lookups (one profile, a few models) give what loading everything gives:
/// built-in, overridden, disabled, `.yml` over `.yaml`, config.yaml's `model_list`, credentials.
#[test]
fn the_hook_paths_lookups_equal_loading_everything() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cfg");
    std::fs::create_dir_all(cfg.join("profiles")).unwrap();
    std::fs::write(
        cfg.join("models.yaml"),
        "model_list:\n  - model_name: demo/opus\n    litellm_params:\n      model: mock/x\n      mock_response: mine\n  - model_name: extra\n    litellm_params:\n      model: mock/y\n",
    )
    .unwrap();
    std::fs::write(
        cfg.join("config.yaml"),
        "model_list:\n  - model_name: groq/openai/gpt-oss-120b\n    litellm_params:\n      model: openai/x\n      api_base: http://127.0.0.1:9/v1\n      litellm_credential_name: c\n  - model_name: groq/openai/gpt-oss-120b\n    litellm_params:\n      model: openai/y\ncredential_list:\n  - credential_name: c\n    credential_values:\n      api_key: sk-from-credential\n",
    )
    .unwrap();
    let p = cfg.join("profiles");
    std::fs::write(
        p.join("mine.yaml"),
        "meta:\n  name: Mine\n  opus_model: extra\n  sonnet_model: demo/opus\n  haiku_model: groq/openai/gpt-oss-120b\n",
    )
    .unwrap();
    std::fs::write(
        p.join("both.yaml"),
        "meta:\n  name: Yaml\n  opus_model: a\n  sonnet_model: a\n  haiku_model: a\n",
    )
    .unwrap();
    std::fs::write(
        p.join("both.yml"),
        "meta:\n  name: Yml\n  opus_model: b\n  sonnet_model: b\n  haiku_model: b\n",
    )
    .unwrap();
    std::fs::write(p.join("groq.yml"), "disabled: true\n").unwrap();
    std::fs::write(p.join("demo.yaml"), "meta:\n  name: My demo\n  opus_model: demo/opus\n  sonnet_model: demo/sonnet\n  haiku_model: demo/haiku\n").unwrap();
    let s = settings(dir.path());
    let all_profiles = load_profiles(&s).unwrap();
    let all_models = load_models(&s).unwrap();
    let mut names: Vec<&str> = all_profiles.keys().map(String::as_str).collect();
    assert!(
        names.len() > builtin::PROFILES.len(),
        "user profiles are there"
    );
    names.push("nope");
    for name in names {
        let Ok(expected) = profile(&all_profiles, name) else {
            let e = find_profile(&s, name).unwrap_err().to_string();
            assert!(
                e.contains("unknown profile 'nope'") && e.contains("both"),
                "{e}"
            );
            continue;
        };
        let got = find_profile(&s, name).unwrap();
        assert_eq!(got.source, expected.source, "{name}");
        assert_eq!(
            serde_json::to_value(&got.item).unwrap(),
            serde_json::to_value(&expected.item).unwrap(),
            "{name}"
        );
        let wanted = got.item.model_names();
        let got_models = load_models_named(&s, &wanted).unwrap();
        let expected_models: Vec<_> = all_models
            .iter()
            .filter(|m| wanted.contains(&m.item.model_name.as_str()))
            .collect();
        assert_eq!(got_models.len(), expected_models.len(), "{name}");
        for (g, e) in got_models.iter().zip(expected_models) {
            assert_eq!(full(g), full(e), "{name}");
        }
    }
    assert_eq!(find_profile(&s, "both").unwrap().item.name, "Yml");
    assert_eq!(find_profile(&s, "groq").unwrap().source, Source::BuiltIn);
    let mine = load_models_named(&s, &["groq/openai/gpt-oss-120b"]).unwrap();
    assert_eq!(
        mine.len(),
        2,
        "config.yaml's two deployments replace the built-in one"
    );
    assert_eq!(
        mine[0]
            .item
            .litellm_params
            .api_key
            .as_ref()
            .map(|k| k.expose()),
        Some("sk-from-credential")
    );
    // Another profile's broken file does not stop this one; loading everything names it.
    std::fs::write(p.join("broken.yaml"), "meta: [\n").unwrap();
    assert_eq!(find_profile(&s, "mine").unwrap().item.name, "Mine");
    let e = load_profiles(&s).unwrap_err().to_string();
    assert!(e.contains("broken.yaml"), "{e}");
    // A broken file of the profile asked for is named.
    std::fs::write(p.join("mine.yml"), "model: x\n").unwrap();
    let e = find_profile(&s, "mine").unwrap_err().to_string();
    assert!(
        e.contains("mine.yml: a profile's top-level `model:` only takes null"),
        "{e}"
    );
}

//! Tests of the built-in profiles the seed's run-claude lists beyond one per provider (`azure`,
//! `multi`, `cerebras2`, `groq2`): what each routes to and what it needs.

use super::tests::settings;
use super::*;
use gateway::{Deployment, Origin};
use std::collections::HashMap;

/// The profile `name`'s three tier definitions (opus, sonnet, haiku), resolved with `env`.
fn tiers(name: &str, env: &HashMap<String, String>) -> Vec<Deployment> {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let profiles = load_profiles(&s).unwrap();
    let models = load_models(&s).unwrap();
    let p = profile(&profiles, name).unwrap();
    [Tier::Opus, Tier::Sonnet, Tier::Haiku]
        .into_iter()
        .map(|t| {
            let m = p.item.tier_model(t);
            let def = models
                .iter()
                .find(|d| d.item.model_name == m)
                .unwrap_or_else(|| panic!("{name}: no definition of {m}"));
            assert_eq!(def.source, Source::BuiltIn);
            Deployment::new(def.item.clone(), Origin::Config, env)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        })
        .collect()
}

fn upstream(ds: &[Deployment]) -> Vec<(&'static str, &str)> {
    ds.iter()
        .map(|d| (d.provider.name, d.upstream_model.as_str()))
        .collect()
}

#[test]
fn multi_puts_its_tiers_on_three_providers() {
    let ds = tiers("multi", &HashMap::new());
    assert_eq!(
        upstream(&ds),
        [
            ("anthropic", "claude-opus-5-5"),
            ("deepseek", "deepseek-v4-pro"),
            ("cerebras", "gpt-oss-120b")
        ]
    );
    let vars: Vec<_> = ds.iter().map(|d| d.key_var.clone().unwrap()).collect();
    assert_eq!(
        vars,
        ["ANTHROPIC_API_KEY", "DEEPSEEK_API_KEY", "CEREBRAS_API_KEY"]
    );
}

#[test]
fn cerebras2_and_groq2_are_the_providers_other_line_ups() {
    let none = HashMap::new();
    for (two, one, provider) in [
        ("cerebras2", "cerebras", "cerebras"),
        ("groq2", "groq", "groq"),
    ] {
        let (a, b) = (tiers(two, &none), tiers(one, &none));
        assert!(a.iter().all(|d| d.provider.name == provider), "{two}");
        assert_ne!(upstream(&a), upstream(&b), "{two} repeats {one}");
    }
    let c2 = tiers("cerebras2", &none);
    assert_eq!(
        upstream(&c2),
        [
            ("cerebras", "gpt-oss-120b"),
            ("cerebras", "gpt-oss-120b"),
            ("cerebras", "qwen-3.8-27b")
        ]
    );
    // The opus tier reasons hard, the haiku tier not at all, whatever the client asks.
    let effort = |d: &Deployment| {
        d.overrides
            .iter()
            .find(|(k, _)| k == "reasoning_effort")
            .map(|(_, v)| v.clone())
    };
    assert_eq!(effort(&c2[0]), Some("high".into()));
    assert_eq!(effort(&c2[1]), None);
    assert_eq!(effort(&c2[2]), Some("none".into()));
    let g2 = tiers("groq2", &none);
    assert_eq!(
        upstream(&g2),
        [
            ("groq", "llama-3.3-70b-versatile"),
            ("groq", "meta-llama/llama-4-scout-17b-16e-instruct"),
            ("groq", "llama-3.1-8b-instant")
        ]
    );
    for d in c2.iter().chain(&g2) {
        assert!(d.definition.model_info.context_window.is_some());
        assert!(d.target.chat.max_output_tokens.is_some());
    }
}

#[test]
fn azure_reads_the_resource_and_key_from_azures_variables() {
    let env: HashMap<String, String> = [
        ("AZURE_API_BASE", "https://res.openai.azure.com/"),
        ("AZURE_API_KEY", "az-key"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let ds = tiers("azure", &env);
    assert_eq!(
        upstream(&ds),
        [
            ("azure", "gpt-6-sol"),
            ("azure", "gpt-6-sol"),
            ("azure", "gpt-6-luna")
        ]
    );
    for d in &ds {
        assert_eq!(d.api_base, "https://res.openai.azure.com");
        assert_eq!(d.key_var.as_deref(), Some("AZURE_API_KEY"));
        assert!(matches!(d.key, gateway::ApiKey::Value(ref k) if k.expose() == "az-key"));
    }
    // Without the resource's URL the definitions say what to set.
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let models = load_models(&s).unwrap();
    let def = models
        .iter()
        .find(|d| d.item.model_name == "azure/gpt-6-sol")
        .unwrap();
    let e = Deployment::new(def.item.clone(), Origin::Config, &HashMap::new())
        .expect_err("no endpoint");
    assert!(e.to_string().contains("AZURE_API_BASE"), "{e}");
}

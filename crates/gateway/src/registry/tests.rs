//! Unit tests of the registry: group order, leases, reloads and what they keep.

use super::*;
use crate::model::LitellmParams;

fn def(name: &str, model: &str) -> ModelDefinition {
    ModelDefinition {
        model_name: name.into(),
        litellm_params: LitellmParams {
            model: model.into(),
            ..LitellmParams::default()
        },
        model_info: Default::default(),
    }
}

#[test]
fn resolves_names_suffixes_and_claude_tiers() {
    let tiers = Tiers {
        opus: "big".into(),
        sonnet: "mid".into(),
        haiku: "small".into(),
        ..Default::default()
    };
    let (reg, errs) = Registry::new(
        vec![
            def("big", "openai/a"),
            def("mid", "openai/b"),
            def("small", "openai/c"),
        ],
        [("p".to_owned(), tiers)].into(),
        None,
        Registered::All,
        &HashMap::new(),
    );
    assert!(errs.is_empty());
    let s = reg.snapshot();
    assert_eq!(s.resolve("mid", None).unwrap().group, "mid");
    assert_eq!(s.resolve("big[1m]", None).unwrap().group, "big");
    assert_eq!(
        s.resolve("claude-opus-4-8", Some("p")).unwrap().group,
        "big"
    );
    assert_eq!(
        s.resolve("claude-3-5-haiku-20241022", None).unwrap().group,
        "small"
    );
    assert!(s.resolve("claude-opus-4-8", Some("other")).is_none());
    assert!(s.resolve("gpt-9", Some("p")).is_none());
}

#[test]
fn default_profile_resolves_claude_ids_when_the_request_names_none() {
    let a = Tiers {
        opus: "a".into(),
        sonnet: "a".into(),
        haiku: "a".into(),
        ..Default::default()
    };
    let b = Tiers {
        opus: "b".into(),
        sonnet: "b".into(),
        haiku: "b".into(),
        ..Default::default()
    };
    let defs = vec![def("a", "openai/a"), def("b", "openai/b")];
    let profiles: HashMap<String, Tiers> = [("pa".to_owned(), a), ("pb".to_owned(), b)].into();
    let (reg, _) = Registry::new(
        defs.clone(),
        profiles.clone(),
        None,
        Registered::All,
        &HashMap::new(),
    );
    assert!(
        reg.snapshot().resolve("claude-sonnet-4-5", None).is_none(),
        "two profiles, none chosen"
    );
    let (reg, _) = Registry::new(
        defs,
        profiles,
        Some("pb".into()),
        Registered::All,
        &HashMap::new(),
    );
    assert_eq!(
        reg.snapshot()
            .resolve("claude-sonnet-4-5", None)
            .unwrap()
            .group,
        "b"
    );
    assert_eq!(
        reg.snapshot()
            .resolve("claude-sonnet-4-5", Some("pa"))
            .unwrap()
            .group,
        "a"
    );
}

#[test]
fn groups_keep_order_and_same_id_replaces() {
    let mut a = def("g", "openai/a");
    a.litellm_params.order = Some(2);
    let mut b = def("g", "openai/b");
    b.litellm_params.order = Some(1);
    let (reg, _) = Registry::new(
        vec![a.clone(), b],
        HashMap::new(),
        None,
        Registered::Only(vec![]),
        &HashMap::new(),
    );
    assert!(!reg.snapshot().is_registered("g"));
    a.litellm_params.api_key = crate::model::SecretString::new("k");
    reg.upsert(a, &HashMap::new()).unwrap();
    let s = reg.snapshot();
    let g = s.group("g").unwrap();
    assert_eq!(
        g.len(),
        2,
        "same model and endpoint is the same deployment, whatever the key"
    );
    reg.upsert(def("g", "openai/c"), &HashMap::new()).unwrap();
    assert_eq!(reg.snapshot().group("g").unwrap().len(), 3);
    assert_eq!(g[0].upstream_model, "b");
    assert!(s.is_registered("g"));
    assert!(reg.deregister("g"));
    let s = reg.snapshot();
    assert!(!s.is_registered("g"));
    assert_eq!(
        s.group("g").unwrap().len(),
        2,
        "the admin-added deployment went; the configured ones stay, also the one registered \
         again through the admin API"
    );
}

#[test]
fn a_reload_replaces_definitions_and_keeps_leases_and_given_keys() {
    let mut x = def("x", "openai/x");
    x.litellm_params.api_key = crate::model::SecretString::new("os.environ/NOPE");
    let (reg, _) = Registry::new(
        vec![x.clone(), def("y", "openai/y")],
        HashMap::new(),
        None,
        Registered::Only(vec![]),
        &HashMap::new(),
    );
    let given = reg.snapshot().group("x").unwrap()[0].id.clone();
    // `enter` registers x with the key from the user's shell, and an admin-only group.
    let mut with_key = x.clone();
    with_key.litellm_params.api_key = crate::model::SecretString::new("sk-shell");
    reg.upsert(with_key, &HashMap::new()).unwrap();
    reg.upsert(def("admin-only", "openai/z"), &HashMap::new())
        .unwrap();
    reg.upsert(def("y", "openai/old-y"), &HashMap::new())
        .unwrap();
    let build = |defs: Vec<ModelDefinition>| -> Vec<Deployment> {
        defs.into_iter()
            .map(|d| Deployment::new(d, Origin::Config, &HashMap::new()).unwrap())
            .collect()
    };
    let mut y2 = def("y", "openai/y2");
    y2.model_info.context_window = Some(1000);
    for round in 0..2 {
        let changed = reg.replace_config(
            build(vec![x.clone(), y2.clone()]),
            [("p".to_owned(), Tiers::default())].into(),
            Some("p".into()),
        );
        let s = reg.snapshot();
        assert_eq!(
            changed,
            if round == 0 { vec!["x", "y"] } else { vec![] },
            "round {round}"
        );
        assert_eq!(
            s.registered_names(),
            ["x", "y", "admin-only"],
            "leases kept"
        );
        let x_now = &s.group("x").unwrap()[0];
        assert_eq!(x_now.id, given);
        assert!(
            matches!(&x_now.key, ApiKey::Value(k) if k.expose() == "sk-shell"),
            "round {round}: the key the admin API gave is kept: {:?}",
            x_now.key
        );
        let y: Vec<&str> = s
            .group("y")
            .unwrap()
            .iter()
            .map(|d| d.upstream_model.as_str())
            .collect();
        assert_eq!(y, ["y2"], "the old admin registration of y went");
        assert_eq!(s.group("admin-only").unwrap().len(), 1);
    }
}

#[test]
fn register_and_delete_by_id() {
    let (reg, _) = Registry::new(
        vec![def("x", "openai/x")],
        HashMap::new(),
        None,
        Registered::Only(vec![]),
        &HashMap::new(),
    );
    assert_eq!(reg.register(&["x".into(), "nope".into()]), ["x"]);
    assert!(reg.register(&["x".into()]).is_empty());
    let added = reg.upsert(def("y", "openai/y"), &HashMap::new()).unwrap();
    assert_eq!(reg.snapshot().registered_names(), ["x", "y"]);
    assert_eq!(reg.delete_deployment(&added.id).as_deref(), Some("y"));
    assert!(reg.snapshot().group("y").is_none());
    assert_eq!(reg.delete_deployment("missing"), None);
}

/// Claude Code is given `claude-opus-4-6[1m]` for a 1M-context tier (the openClaude launch mode):
/// the suffix, in either case, is not part of the group name; an exact group beats the profile's
/// tier mapping.
#[test]
fn a_1m_suffix_resolves_to_the_group_without_it() {
    let tiers = Tiers {
        opus: "other".into(),
        sonnet: "claude-sonnet-4-5".into(),
        haiku: "qwen3-coder".into(),
        ..Default::default()
    };
    let (reg, errs) = Registry::new(
        vec![
            def("claude-opus-4-6", "openai/a"),
            def("claude-sonnet-4-5", "openai/b"),
            def("qwen3-coder", "openai/c"),
            def("other", "openai/d"),
        ],
        [("bedrock".to_owned(), tiers)].into(),
        None,
        Registered::All,
        &HashMap::new(),
    );
    assert!(errs.is_empty());
    let s = reg.snapshot();
    for (asked, group) in [
        ("claude-opus-4-6[1m]", "claude-opus-4-6"),
        ("claude-opus-4-6[1M]", "claude-opus-4-6"),
        ("claude-sonnet-4-5[1m]", "claude-sonnet-4-5"),
        ("claude-opus-4-8[1m]", "other"),
    ] {
        assert_eq!(
            s.resolve(asked, Some("bedrock"))
                .map(|r| r.group)
                .as_deref(),
            Some(group),
            "{asked}"
        );
    }
    assert_eq!(
        s.resolve("claude-opus-4-6[1m]", None).unwrap().deployments[0].upstream_model,
        "a"
    );
}

/// (deployment's model name, provider, upstream model id)
type Shown = (String, String, String);

fn resolved(s: &Snapshot, name: &str) -> Option<(String, Vec<Shown>)> {
    s.resolve(name, None).map(|r| {
        let deps = r
            .deployments
            .iter()
            .map(|d| {
                (
                    d.model_name().to_owned(),
                    d.provider.name.to_owned(),
                    d.upstream_model.clone(),
                )
            })
            .collect();
        (r.group, deps)
    })
}

/// LiteLLM's wildcard routing: the part the `*` matched goes into the deployment's model, so
/// `openai/gpt-x` reaches provider openai with id `gpt-x`; exact names and more specific
/// patterns win; a name no pattern matches is not served.
#[test]
fn wildcard_groups_route_the_requested_name_to_the_provider() {
    let (reg, errs) = Registry::new(
        vec![
            def("openai/*", "openai/*"),
            def("anthropic/*", "anthropic/*"),
            def("claude-*", "anthropic/claude-*"),
            def("gpt-4o", "groq/fixed"),
            def("fixed-*", "groq/always-this"),
        ],
        HashMap::new(),
        None,
        Registered::All,
        &HashMap::new(),
    );
    assert!(errs.is_empty(), "{errs:?}");
    let s = reg.snapshot();
    let one = |g: &str, name: &str, provider: &str, model: &str| {
        Some((
            g.to_owned(),
            vec![(name.to_owned(), provider.to_owned(), model.to_owned())],
        ))
    };
    assert_eq!(
        resolved(&s, "openai/gpt-5-mini"),
        one("openai/*", "openai/gpt-5-mini", "openai", "gpt-5-mini")
    );
    assert_eq!(
        resolved(&s, "anthropic/claude-x-1"),
        one(
            "anthropic/*",
            "anthropic/claude-x-1",
            "anthropic",
            "claude-x-1"
        )
    );
    assert_eq!(
        resolved(&s, "claude-opus-4-6"),
        one(
            "claude-*",
            "claude-opus-4-6",
            "anthropic",
            "claude-opus-4-6"
        )
    );
    assert_eq!(
        resolved(&s, "gpt-4o"),
        one("gpt-4o", "gpt-4o", "groq", "fixed"),
        "an exact group wins over every pattern"
    );
    assert_eq!(
        resolved(&s, "fixed-anything"),
        one("fixed-*", "fixed-anything", "groq", "always-this"),
        "a model without `*` serves every matching name as written"
    );
    assert!(resolved(&s, "mistral/large").is_none());
    // The same name again is served by the deployment made the first time.
    let a = s.resolve("openai/gpt-5-mini", None).unwrap();
    let b = s.resolve("openai/gpt-5-mini", None).unwrap();
    assert!(Arc::ptr_eq(&a.deployments[0], &b.deployments[0]));
    assert!(a.registered, "the pattern group is registered");
}

#[test]
fn a_catch_all_group_takes_every_unknown_name_after_aliases_and_tiers() {
    let tiers = Tiers {
        opus: "big".into(),
        sonnet: "big".into(),
        haiku: "big".into(),
        ..Default::default()
    };
    let (reg, errs) = Registry::new(
        vec![def("big", "groq/big"), def("*", "openai/*")],
        [("p".to_owned(), tiers)].into(),
        Some("p".into()),
        Registered::All,
        &HashMap::new(),
    );
    assert!(errs.is_empty(), "{errs:?}");
    reg.set_aliases([("gpt-4".to_owned(), "big".to_owned())].into());
    let s = reg.snapshot();
    assert_eq!(s.resolve("gpt-4", None).unwrap().group, "big", "alias");
    assert_eq!(
        s.resolve("claude-sonnet-4-5", None).unwrap().group,
        "big",
        "the default profile's tiers come before the catch-all"
    );
    assert_eq!(
        resolved(&s, "some/model-x"),
        Some((
            "*".to_owned(),
            vec![(
                "some/model-x".to_owned(),
                "openai".to_owned(),
                "some/model-x".to_owned()
            )]
        ))
    );
}

/// `router_settings.model_group_alias`: the alias resolves to its group (also with Claude
/// Code's `[1m]` suffix); an alias of a group that does not exist resolves to nothing; a
/// reload keeps the aliases until new ones are set.
#[test]
fn model_group_alias_names_another_group() {
    let (reg, _) = Registry::new(
        vec![def("gpt-4o", "openai/gpt-4o")],
        HashMap::new(),
        None,
        Registered::All,
        &HashMap::new(),
    );
    reg.set_aliases(
        [
            ("gpt-4".to_owned(), "gpt-4o".to_owned()),
            ("ghost".to_owned(), "nothing".to_owned()),
        ]
        .into(),
    );
    let s = reg.snapshot();
    let r = s.resolve("gpt-4", None).unwrap();
    assert_eq!((r.group.as_str(), r.deployments.len()), ("gpt-4o", 1));
    assert_eq!(s.resolve("gpt-4[1m]", None).unwrap().group, "gpt-4o");
    assert!(s.resolve("ghost", None).is_none());
    let d = Deployment::new(
        def("gpt-4o", "openai/gpt-4o-2"),
        Origin::Config,
        &HashMap::new(),
    )
    .unwrap();
    reg.replace_config(vec![d], HashMap::new(), None);
    assert_eq!(
        reg.snapshot().resolve("gpt-4", None).unwrap().group,
        "gpt-4o"
    );
}

//! Unit tests of the LiteLLM config checks: the warnings, duplicate keys, unknown sections,
//! `model_group_alias`, `credential_list` and `drop_params`.

use super::*;

const CONFIG: &str = "\
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      organization: org-1
      rpm: 10
    model_info:
      mode: chat
  - model_name: embed
    litellm_params:
      model: openai/text-embedding-3-small
    model_info:
      mode: embedding
  - model_name: local
    litellm_params:
      model: ollama_chat/llama3
      api_base: http://localhost:11434
    extra: 1
litellm_settings:
  drop_params: false
router_settings:
  routing_strategy: simple-shuffle
  model_group_alias: {\"gpt-4\": \"gpt-4o\", \"hidden\": {\"model\": \"embed\", \"hidden\": true}}
  redis_host: localhost
general_settings:
  master_key: sk-1
  alerting: [slack]
health_check:
  endpoint: /health
  nested:
    - x
mcp_servers:
  a: {}
litellm_settings:
  drop_params: true
  success_callback: [langfuse]
  cache: true
";

#[test]
fn every_unimplemented_key_is_named_once_with_its_line() {
    let c = check(CONFIG, "c.yaml");
    assert_eq!(
        c.warnings,
        [
            "c.yaml:34: litellm_settings: given again (first at line 19); the last one is used, as LiteLLM's loader does",
            "c.yaml:5: model_list[0] (gpt-4o).litellm_params.organization: the OpenAI-Organization header is not sent; ignored",
            "c.yaml:13: model_list[1] (embed).model_info.mode: 'embedding' is not served (agent-shim serves chat, Messages and Responses requests); not served",
            "c.yaml:18: model_list[2] (local).extra: not implemented; ignored",
            "c.yaml:16: model_list[2] (local).litellm_params.model: provider 'ollama_chat' is not in agent-shim's provider table; its requests go to api_base as to an OpenAI-compatible server, which may not be what 'ollama_chat' speaks",
            "c.yaml:24: router_settings.redis_host: state is kept per gateway; Redis is not used; ignored",
            "c.yaml:27: general_settings.alerting: not implemented; ignored",
            "c.yaml:28: health_check: not a key of LiteLLM or agent-shim; ignored (LiteLLM ignores it too)",
            "c.yaml:32: mcp_servers: the MCP gateway is not implemented; ignored",
            "c.yaml:36: litellm_settings.success_callback: callbacks are not implemented (usage goes to the gateway log and `agent-shim usage`); ignored",
            "c.yaml:37: litellm_settings.cache: response caching is not implemented; ignored",
        ]
    );
    assert_eq!(c.deployments, [(2, false), (9, true), (14, true)]);
    assert_eq!(
        c.model_group_alias,
        BTreeMap::from([
            ("gpt-4".to_owned(), "gpt-4o".to_owned()),
            ("hidden".to_owned(), "embed".to_owned())
        ])
    );
    // The unknown section is blanked, lines kept; the typed load then takes the rest, the
    // second litellm_settings winning.
    assert_eq!(c.text.lines().count(), CONFIG.lines().count());
    let config = load_config(CONFIG, "c.yaml").unwrap();
    assert_eq!(config.warnings, c.warnings);
    assert_eq!(
        config.litellm_settings.as_ref().unwrap().drop_params,
        Some(true)
    );
    assert_eq!(config.model_list.len(), 3);
}

#[test]
fn an_agent_shim_config_keeps_unknown_keys_as_errors() {
    let e = load_config("port: 1\nprot: 2\n", "/x/config.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/x/config.yaml:2:1: prot: not a known key; the keys here are host, port,"),
        "{e}"
    );
    // Duplicates are accepted there too, named, the last one used.
    let c = load_config("port: 1\nport: 2\n", "/x/config.yaml").unwrap();
    assert_eq!(c.port, Some(2));
    assert_eq!(
        c.warnings,
        [
            "/x/config.yaml:2: port: given again (first at line 1); the last one is used, as LiteLLM's loader does"
        ]
    );
}

#[test]
fn an_unknown_section_given_twice_is_named_twice_and_loads() {
    let c = load_config("model_list: []\nextra: 1\nextra:\n  a: 2\n", "c.yaml").unwrap();
    assert_eq!(
        c.warnings,
        [
            "c.yaml:3: extra: given again (first at line 2); the last one is used, as LiteLLM's loader does",
            "c.yaml:3: extra: not a key of LiteLLM or agent-shim; ignored (LiteLLM ignores it too)",
        ]
    );
}

#[test]
fn merged_keys_overridden_in_place_are_not_duplicates() {
    let text = "\
model_list:
  - model_name: a
    litellm_params: &base
      model: openai/a
      rpm: 1
  - model_name: b
    litellm_params:
      <<: *base
      model: openai/b
";
    let c = check(text, "m.yaml");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let config = load_config(text, "m.yaml").unwrap();
    assert_eq!(config.model_list[1].litellm_params.model, "openai/b");
}

fn defs(config: &ConfigFile) -> Vec<ModelDefinition> {
    let mut d = config.model_list.clone();
    apply(d.iter_mut(), config, "c.yaml").map(|()| d).unwrap()
}

#[test]
fn credentials_fill_in_what_a_deployment_does_not_give_and_drop_params_is_the_default() {
    let config = load_config(
        "\
model_list:
  - model_name: a
    litellm_params:
      model: openai/a
      litellm_credential_name: shared
  - model_name: b
    litellm_params:
      model: openai/b
      api_base: http://own:1/v1
      drop_params: true
      litellm_credential_name: shared
credential_list:
  - credential_name: shared
    credential_values:
      api_key: os.environ/SHARED_KEY
      api_base: http://shared:2/v1
      api_version: \"2024-10-21\"
    credential_info:
      description: team key
litellm_settings:
  drop_params: false
",
        "c.yaml",
    )
    .unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert!(
        !format!("{config:?}").contains("SHARED_KEY"),
        "Debug shows no credential value"
    );
    let d = defs(&config);
    let (a, b) = (&d[0].litellm_params, &d[1].litellm_params);
    assert_eq!(
        a.api_key.as_ref().unwrap().env_reference(),
        Some("SHARED_KEY")
    );
    assert_eq!(a.api_base.as_deref(), Some("http://shared:2/v1"));
    assert_eq!(a.other["api_version"], "2024-10-21");
    assert_eq!(a.drop_params, Some(false), "litellm_settings.drop_params");
    assert_eq!(
        b.api_base.as_deref(),
        Some("http://own:1/v1"),
        "its own wins"
    );
    assert_eq!(
        b.api_key.as_ref().unwrap().env_reference(),
        Some("SHARED_KEY")
    );
    assert_eq!(b.drop_params, Some(true), "its own wins");
}

#[test]
fn an_unknown_credential_name_says_which_exist() {
    let config = load_config(
        "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/a\n      litellm_credential_name: nope\ncredential_list:\n  - credential_name: shared\n",
        "c.yaml",
    )
    .unwrap();
    let mut d = config.model_list.clone();
    let e = apply(d.iter_mut(), &config, "c.yaml").unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        e.to_string(),
        "c.yaml: model 'a': litellm_credential_name 'nope' is not in credential_list (credentials: shared); \
         add a credential_list entry with credential_name: nope, or fix the name"
    );
}

/// `environment_variables`: the config's values come first (as LiteLLM sets them in its
/// environment), may name another variable, and are never shown by `Debug`.
#[test]
fn environment_variables_come_before_the_environment() {
    use gateway::SecretSource;
    let config = load_config(
        "model_list: []\nenvironment_variables:\n  MY_BASE: http://h:1/v1\n  PORT_N: 6379\n  ALIASED: os.environ/REAL\n  NOTHING:\n",
        "c.yaml",
    )
    .unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert!(!format!("{config:?}").contains("h:1"), "{config:?}");
    let inner: std::collections::HashMap<String, String> = [
        ("MY_BASE", "from-env"),
        ("REAL", "real-value"),
        ("OTHER", "other"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    let vars = ConfigVariables::new(&config.environment_variables, inner);
    let get = |n: &str| vars.get(n).map(|v| v.expose().to_owned());
    assert_eq!(get("MY_BASE").as_deref(), Some("http://h:1/v1"));
    assert_eq!(get("PORT_N").as_deref(), Some("6379"));
    assert_eq!(get("ALIASED").as_deref(), Some("real-value"));
    assert_eq!(get("OTHER").as_deref(), Some("other"));
    assert_eq!(get("NOTHING"), None);
}

#[test]
fn custom_pricing_keys_are_implemented_in_litellm_params_and_model_info() {
    let c = check(
        "\
model_list:
  - model_name: priced
    litellm_params:
      model: openai/gpt-4o
      input_cost_per_token: 0.000001
      output_cost_per_token: \"2e-6\"
      cache_read_input_token_cost: 0.0000005
      input_cost_per_token_above_200k_tokens: 0.000002
      output_cost_per_token_priority: 0.00001
    model_info:
      cache_creation_input_token_cost: 0.00000125
      output_cost_per_token_above_200k_tokens: 0.000003
",
        "c.yaml",
    );
    // Only the service-tier price (not implemented) is named.
    assert_eq!(
        c.warnings,
        [
            "c.yaml:9: model_list[0] (priced).litellm_params.output_cost_per_token_priority: not implemented; ignored"
        ]
    );
}

//! A LiteLLM proxy config's router keys, read by the real binary: `litellm_settings`' fallbacks
//! and `num_retries` serve a failing model from its fallback, and a `router_settings` key
//! agent-shim does not implement is named in the gateway log.

use crate::common::*;
use serde_json::json;

#[test]
fn litellm_settings_fallbacks_serve_and_ignored_router_keys_are_named() {
    let s = Sandbox::new();
    s.write_config(
        "config.yaml",
        r#"
model_list:
  - model_name: primary
    litellm_params:
      model: openai/gpt-x
      api_base: http://127.0.0.1:9/v1
      api_key: sk-none
  - model_name: rescue
    litellm_params:
      model: openai/rescue
      mock_response: "rescued by the fallback"
litellm_settings:
  num_retries: 0
  fallbacks: [{"primary": ["rescue"]}]
router_settings:
  routing_strategy: least-busy
  redis_host: localhost
"#,
    );
    assert_ok("proxy start", &s.run(&["proxy", "start"]));
    let key = master_key(&s);
    let request = json!({"model": "primary", "max_tokens": 100,
                         "messages": [{"role": "user", "content": "hi"}]});
    let (status, body) =
        post_json(&format!("{}/v1/messages", s.base_url()), &key, &request).expect("answered");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("rescued by the fallback"), "{body}");
    // Named once, with its line, by the LiteLLM key checker; the router keys are not named.
    let log = gateway_log_with(&s, "router_settings.redis_host");
    assert_eq!(
        log.matches("router_settings.redis_host").count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("config.yaml:17: router_settings.redis_host"),
        "{log}"
    );
    assert!(
        !log.contains("routing_strategy"),
        "least-busy is implemented: {log}"
    );
    assert!(
        !log.contains("litellm_settings.fallbacks"),
        "read as a router key: {log}"
    );
}

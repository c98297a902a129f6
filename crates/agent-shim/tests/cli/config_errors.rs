//! Configuration errors name the file, line and column, and exit with 2.

use crate::common::*;

/// Regression: models.yaml errors said `invalid u32`, naming neither the key nor what it got.
#[test]
fn bad_models_yaml_names_file_line_column_key_and_expectation() {
    let s = Sandbox::new();
    s.write_config("models.yaml", "model_list:\n  - model_name: x\n    litellm_params:\n      model: groq/y\n      max_tokens: many\n");
    let o = s.run(&["models", "list"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    let path = s.config_dir().join("models.yaml");
    assert!(
        e.contains(&format!(
            "{}:5:19: model_list[0].litellm_params.max_tokens: expected a whole number, got the string \"many\"",
            path.display()
        )),
        "{e}"
    );
    s.write_config(
        "models.yaml",
        "model_list:\n  - model_name: x\n    litellm_params:\n      model: groq/y\n      api_mode: chatty\n",
    );
    let e = stderr(&s.run(&["models", "list"]));
    assert!(
        e.contains(r#":5:17: model_list[0].litellm_params.api_mode: expected one of "chat", "#)
            && e.contains(r#""anthropic", "anthropic_messages", "messages", got "chatty""#),
        "{e}"
    );
    assert!(!e.contains("variant"), "{e}");
}

/// Regression: a typo in config.yaml said `unknown field `prot`, expected one of …`.
#[test]
fn typo_in_config_yaml_lists_the_expected_keys() {
    let s = Sandbox::new();
    s.write_config("config.yaml", "prot: 1\n");
    let o = s.run(&["env", "demo"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("config.yaml:1:1: prot: not a known key; the keys here are host, port,"),
        "{e}"
    );
    s.write_config("config.yaml", "router_settings:\n  num_retries: twice\n");
    let e = stderr(&s.run(&["env", "demo"]));
    assert!(
        e.contains(r#"config.yaml:2:16: router_settings.num_retries: expected a whole number, got the string "twice""#),
        "{e}"
    );
}

/// Regression: a profile with a list where a string belongs said `expected string scalar`.
#[test]
fn bad_profile_names_the_key_and_what_it_got() {
    let s = Sandbox::new();
    s.write_config(
        "profiles/mine.yaml",
        "meta:\n  name: mine\n  opus_model: [a, b]\n  sonnet_model: b\n  haiku_model: c\n",
    );
    let o = s.run(&["profiles", "list"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    let path = s.config_dir().join("profiles/mine.yaml");
    assert!(
        e.contains(&format!(
            "{}:3:15: meta.opus_model: expected a string, got a list",
            path.display()
        )),
        "{e}"
    );
    s.write_config(
        "profiles/mine.yaml",
        "meta:\n  name: mine\n  opus_model: a\n",
    );
    let e = stderr(&s.run(&["profiles", "list"]));
    assert!(
        e.contains("meta.sonnet_model: required, but missing"),
        "{e}"
    );
}

#[test]
fn bad_port_variable_is_named() {
    let s = Sandbox::new();
    let o = s
        .cmd(&["env", "demo"])
        .env("AGENT_SHIM_PORT", "80808")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("AGENT_SHIM_PORT=\"80808\" is not a port number"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn usage_errors_exit_2() {
    let s = Sandbox::new();
    assert_eq!(s.run(&["with", "demo"]).status.code(), Some(2));
    assert_eq!(s.run(&["no-such-command"]).status.code(), Some(2));
}

/// `config check FILE`: warnings and unservable deployments on stdout, one line each, with the
/// share served; exit 1 when a deployment is not served, 2 when the file does not load.
#[test]
fn config_check_names_what_is_not_served_and_exits_by_severity() {
    let s = Sandbox::new();
    let file = s.work().join("litellm.yaml");
    std::fs::write(
        &file,
        "model_list:\n  - model_name: a\n    litellm_params:\n      model: groq/x\n  - model_name: b\n    litellm_params:\n      model: nowhere/x\nmodel_list:\n  - model_name: a\n    litellm_params:\n      model: groq/x\n      tags: [t]\n",
    )
    .unwrap();
    let o = s.run(&["config", "check", "litellm.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        stdout(&o),
        "warning: litellm.yaml:8: model_list: given again (first at line 1); the last one is used, as LiteLLM's loader does\n\
         warning: litellm.yaml:12: model_list[0] (a).litellm_params.tags: not implemented; ignored\n\
         litellm.yaml: 1 of 1 deployments served (100%), 2 warnings\n"
    );
    std::fs::write(
        &file,
        "model_list:\n  - model_name: b\n    litellm_params:\n      model: nowhere/x\n",
    )
    .unwrap();
    let o = s.run(&["config", "check", "litellm.yaml"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("not served: litellm.yaml:2: model 'b': unknown provider 'nowhere'"),
        "{out}"
    );
    assert!(
        out.ends_with("litellm.yaml: 0 of 1 deployments served (0%), 0 warnings\n"),
        "{out}"
    );
    std::fs::write(&file, "model_list:\n  - model_name: [b]\n").unwrap();
    let o = s.run(&["config", "check", "litellm.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("litellm.yaml:2:17: model_list[0].model_name: expected a string"),
        "{}",
        stderr(&o)
    );
    let o = s.run(&["config", "check", "missing.yaml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = s.run(&["config", "check"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A variable given in the config's `environment_variables` serves the deployment that
/// references it; without it the deployment is named as not served.
#[test]
fn config_check_reads_environment_variables_from_the_config() {
    let s = Sandbox::new();
    let body = "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/x\n      api_base: os.environ/MY_BASE\n      api_key: k\n";
    std::fs::write(s.work().join("a.yaml"), body).unwrap();
    let o = s.run(&["config", "check", "a.yaml"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("api_base is os.environ/MY_BASE, but MY_BASE is not set"),
        "{}",
        stdout(&o)
    );
    std::fs::write(
        s.work().join("a.yaml"),
        format!("{body}environment_variables:\n  MY_BASE: http://127.0.0.1:9/v1\n"),
    )
    .unwrap();
    let o = s.run(&["config", "check", "a.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(
        stdout(&o),
        "a.yaml: 1 of 1 deployments served (100%), 0 warnings\n"
    );
}

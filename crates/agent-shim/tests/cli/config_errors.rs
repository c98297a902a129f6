//! Configuration errors name the file, line and column, and exit with 2.

use crate::common::*;

#[test]
fn bad_models_yaml_names_file_line_and_column() {
    let s = Sandbox::new();
    s.write_config("models.yaml", "model_list:\n  - model_name: x\n    litellm_params:\n      model: groq/y\n      max_tokens: many\n");
    let o = s.run(&["models", "list"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    let path = s.config_dir().join("models.yaml");
    assert!(
        e.contains(&format!("{}:5:19: invalid u32", path.display())),
        "{e}"
    );
}

#[test]
fn typo_in_config_yaml_lists_the_expected_keys() {
    let s = Sandbox::new();
    s.write_config("config.yaml", "prot: 1\n");
    let o = s.run(&["env", "demo"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("config.yaml:1:1: unknown field `prot`, expected one of"),
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

//! `agent-shim models list|show|test`.

use crate::common::*;

#[test]
fn test_demo_is_a_full_round_trip_without_keys() {
    let s = Sandbox::new();
    let o = s.run(&["models", "test", "demo"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    for tier in ["opus", "sonnet", "haiku"] {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("demo/{tier}")))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(line.starts_with("ok"), "{line}");
        assert!(
            line.contains("Hello from agent-shim's demo profile"),
            "{line}"
        );
        assert!(
            line.contains(" ms") && line.contains(" in ") && line.contains(" out "),
            "{line}"
        );
    }
    assert!(
        s.state_dir()
            .join(format!("gateway-{}.pid", s.port))
            .exists(),
        "the gateway was started in the background"
    );
}

#[test]
fn test_without_a_provider_key_names_the_variable_to_set() {
    let s = Sandbox::new();
    let o = s.run(&["models", "test", "groq"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.lines().all(|l| l.starts_with("FAIL")), "{out}");
    assert!(
        out.contains("set GROQ_API_KEY") && out.contains("agent-shim secrets set GROQ_API_KEY"),
        "{out}"
    );
}

#[test]
fn list_and_show_give_sources_and_redact_keys() {
    let s = Sandbox::new();
    s.write_config(
        "models.yaml",
        "model_list:\n  - model_name: mine\n    litellm_params:\n      model: groq/x\n      api_key: gsk-secret-value\n",
    );
    let out = stdout(&s.run(&["models", "list"]));
    let mine = out.lines().find(|l| l.starts_with("mine ")).unwrap();
    assert!(mine.contains("models.yaml"), "{mine}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("demo/opus") && l.ends_with("built-in")),
        "{out}"
    );
    let shown = stdout(&s.run(&["models", "show", "mine"]));
    assert!(
        shown.contains("[redacted]") && !shown.contains("gsk-secret-value"),
        "{shown}"
    );
    let o = s.run(&["models", "show", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown model 'nope'"));
}

//! Codex's generated model catalogue (`with … -- codex`), with a stand-in `codex` that prints a
//! small bundled catalogue for `debug models` and records the arguments of the launch: the
//! catalogue's entries, the window taken from the remote model cache, the per-binary template
//! cache, and what happens when `debug models` fails. (The real Codex is run in agents_e2e.rs.)

use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

struct FakeCodex {
    bin: PathBuf,
    argv: PathBuf,
    debug_calls: PathBuf,
}

/// `<dir>/codex`: `debug models` prints `catalog` (or fails with `None`) and counts the call;
/// anything else records its arguments.
fn fake_codex(s: &Sandbox, catalog: Option<&Value>) -> FakeCodex {
    let dir = s.dir.path().join("codex-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let argv = dir.join("argv");
    let debug_calls = dir.join("debug-calls");
    let answer = match catalog {
        Some(c) => {
            let file = dir.join("bundled.json");
            std::fs::write(&file, c.to_string()).unwrap();
            format!("cat '{}'", file.display())
        }
        None => "echo 'unknown command' >&2; exit 2".into(),
    };
    let bin = dir.join("codex");
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\nif [ \"$1\" = debug ] && [ \"$2\" = models ]; then\n  echo \"$CODEX_HOME\" >> '{}'\n  {answer}\n  exit 0\nfi\nprintf '%s\\n' \"$@\" > '{}'\n",
            debug_calls.display(),
            argv.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    FakeCodex {
        bin,
        argv,
        debug_calls,
    }
}

impl FakeCodex {
    fn args(&self) -> Vec<String> {
        std::fs::read_to_string(&self.argv)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The value of the `-c NAME=…` override, if given.
    fn override_of(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.args()
            .iter()
            .find_map(|a| a.strip_prefix(&prefix).map(str::to_owned))
    }

    fn debug_calls(&self) -> usize {
        std::fs::read_to_string(&self.debug_calls)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }
}

fn bundled() -> Value {
    json!({"models": [
        {"slug": "gpt-new", "display_name": "New", "visibility": "list", "priority": 1,
         "tool_mode": "code_mode_only", "base_instructions": "new instructions",
         "shell_type": "unified_exec", "context_window": 272000, "max_context_window": 872000,
         "truncation_policy": {"mode": "tokens", "limit": 10000}, "future_field": "a"},
        {"slug": "gpt-classic", "display_name": "Classic", "visibility": "list", "priority": 9,
         "base_instructions": "classic instructions", "shell_type": "unified_exec",
         "context_window": 272000, "max_context_window": 272000,
         "truncation_policy": {"mode": "tokens", "limit": 10000}, "future_field": "b"}
    ]})
}

fn setup(window: Option<u64>) -> (Sandbox, FakeProviderThread) {
    let script = json!({
        "models": ["big-coder"],
        "model_fields": {"big-coder": {"context_length": 262144}},
        "default": {"text": "hi"}
    });
    let fake = FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
    let s = Sandbox::new();
    let info = window.map_or(String::new(), |w| {
        format!("    model_info:\n      context_window: {w}\n")
    });
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:\n  - model_name: coder\n    litellm_params:\n      model: openai/big-coder\n      \
             api_base: {}/v1\n      api_key: sk-x\n{info}  - model_name: helper\n    litellm_params:\n      \
             model: openai/small\n      api_base: {}/v1\n      api_key: sk-x\n    model_info:\n      context_window: 32768\n",
            fake.base_url(),
            fake.base_url()
        ),
    );
    s.write_config(
        "profiles/test.yaml",
        "meta:\n  name: test\n  opus_model: coder\n  sonnet_model: coder\n  haiku_model: helper\n",
    );
    (s, fake)
}

fn launch(s: &Sandbox, codex: &FakeCodex) -> std::process::Output {
    let bin = codex.bin.display().to_string();
    let o = s.run(&["with", "test", "--", &bin, "exec", "hello"]);
    assert_ok("with … -- codex", &o);
    o
}

fn catalogue(codex: &FakeCodex) -> Value {
    let path = codex
        .override_of("model_catalog_json")
        .unwrap_or_else(|| panic!("no model_catalog_json in {:?}", codex.args()));
    let path: String = serde_json::from_str(&path).expect("a TOML basic string");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn catalogue_lists_the_profile_models_with_the_cached_window() {
    let (s, fake) = setup(None);
    let codex = fake_codex(&s, Some(&bundled()));
    assert_ok(
        "models list --remote",
        &s.run(&["models", "list", "--remote", "test"]),
    );
    let o = launch(&s, &codex);
    assert!(!stderr(&o).contains("no context window"), "{}", stderr(&o));
    assert_eq!(
        codex.override_of("model_context_window").as_deref(),
        Some("262144"),
        "the launch model's window comes from the cached list"
    );
    let c = catalogue(&codex);
    let models = c["models"].as_array().unwrap();
    assert_eq!(models.len(), 2, "{c}");
    let coder = &models[0];
    assert_eq!(coder["slug"], "coder");
    assert_eq!(coder["priority"], 0);
    assert_eq!(coder["context_window"], 262_144);
    assert_eq!(coder["max_context_window"], 262_144);
    assert_eq!(coder["base_instructions"], "classic instructions");
    assert_eq!(coder["future_field"], "b", "fields Codex requires are kept");
    assert_eq!(coder["shell_type"], "default", "Codex's fallback settings");
    assert!(coder.get("tool_mode").is_none());
    assert_eq!(models[1]["slug"], "helper");
    assert_eq!(models[1]["context_window"], 32_768);

    // The template is cached per Codex binary: the second launch does not ask again.
    assert_eq!(codex.debug_calls(), 1);
    launch(&s, &codex);
    assert_eq!(codex.debug_calls(), 1);
    let home = std::fs::read_to_string(&codex.debug_calls).unwrap();
    assert!(
        !std::path::Path::new(home.trim()).exists(),
        "the temporary CODEX_HOME is removed"
    );
    // Only the list fetch reached the upstream.
    assert!(
        fake.requests().iter().all(|r| r.path == "/v1/models"),
        "{:?}",
        fake.requests()
    );
}

#[test]
fn declared_window_wins_and_an_unknown_window_is_named() {
    let (s, _fake) = setup(Some(100_000));
    let codex = fake_codex(&s, Some(&bundled()));
    launch(&s, &codex);
    let c = catalogue(&codex);
    assert_eq!(c["models"][0]["context_window"], 100_000);

    let (s, _fake) = setup(None);
    let codex = fake_codex(&s, Some(&bundled()));
    let o = launch(&s, &codex);
    let err = stderr(&o);
    assert!(
        err.contains("Codex gets no context window for model 'coder'")
            && err.contains("models list --remote test"),
        "{err}"
    );
    let c = catalogue(&codex);
    assert!(c["models"][0].get("context_window").is_none(), "{c}");
    assert!(codex.override_of("model_context_window").is_none());
}

#[test]
fn a_codex_without_debug_models_still_launches() {
    let (s, _fake) = setup(Some(100_000));
    let codex = fake_codex(&s, None);
    let o = launch(&s, &codex);
    assert!(
        stderr(&o).contains("no model catalogue for Codex"),
        "{}",
        stderr(&o)
    );
    assert!(codex.override_of("model_catalog_json").is_none());
    assert_eq!(
        codex.override_of("model_context_window").as_deref(),
        Some("100000")
    );
}

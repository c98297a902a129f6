//! `agent-shim prices update [--from FILE|URL]` and `prices show MODEL`: the table is pruned,
//! written atomically to the state dir with its source, read back by `show`, and bad input gets
//! one line naming it and the fix.

use crate::common::{Sandbox, assert_ok, stderr, stdout};
use std::io::{Read, Write};

/// A small LiteLLM-shaped table: one chat model with cache and tier prices, one embedding model
/// (pruned away), one chat model priced by a rule not implemented (pruned away).
const LITELLM: &str = r#"{
  "sample_spec": {"mode": "one of: chat", "input_cost_per_token": 0.0, "output_cost_per_token": 0.0},
  "acme/brainy-1": {"mode": "chat", "litellm_provider": "acme", "input_cost_per_token": 2e-06,
                     "output_cost_per_token": 8e-06, "cache_read_input_token_cost": 5e-07,
                     "input_cost_per_token_above_200k_tokens": 4e-06, "max_tokens": 1000,
                     "supports_vision": true},
  "acme/embed-1": {"mode": "embedding", "input_cost_per_token": 1e-07, "output_cost_per_token": 0.0},
  "acme/tiered-1": {"mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06,
                     "tiered_pricing": [{"range": [0, 1000], "input_cost_per_token": 1e-06}]}
}"#;

/// The value (USD per million tokens) of `show`'s row `label`.
fn rate<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no row {label:?} in {out}"))
}

fn written(s: &Sandbox) -> serde_json::Value {
    let text = std::fs::read_to_string(s.state_dir().join("prices.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn update_from_a_file_prunes_and_show_reads_it() {
    let s = Sandbox::new();
    let src = s.work().join("litellm.json");
    std::fs::write(&src, LITELLM).unwrap();
    let o = s.run(&["prices", "update", "--from", src.to_str().unwrap()]);
    assert_ok("prices update", &o);
    let out = stdout(&o);
    assert!(out.contains("wrote 1 model prices"), "{out}");
    assert!(out.contains("agent-shim proxy restart"), "{out}");
    let v = written(&s);
    assert_eq!(
        v["models"],
        serde_json::json!({"acme/brainy-1": {"litellm_provider": "acme",
            "cache_read_input_token_cost": 5e-7, "input_cost_per_token": 2e-6,
            "input_cost_per_token_above_200k_tokens": 4e-6, "output_cost_per_token": 8e-6}})
    );
    assert!(
        v["version"].as_str().unwrap().starts_with("litellm@20"),
        "{v}"
    );
    assert!(
        v["source"]
            .as_str()
            .unwrap()
            .contains("litellm.json (fetched 20"),
        "{v}"
    );
    // No temporary file is left next to it.
    let names: Vec<String> = std::fs::read_dir(s.state_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["prices.json"]);

    // `show` reads the updated table (the embedded one has no `acme/brainy-1`).
    let o = s.run(&["prices", "show", "acme/brainy-1"]);
    assert_ok("prices show", &o);
    let out = stdout(&o);
    assert!(
        out.contains("table entry 'acme/brainy-1' (litellm@20"),
        "{out}"
    );
    assert_eq!(rate(&out, "input"), "2");
    assert_eq!(rate(&out, "cache read"), "0.5");
    assert!(
        out.contains("above 200000 prompt tokens (the whole request): input 4, output 8"),
        "{out}"
    );
}

#[test]
fn show_names_the_embedded_source_a_configured_price_and_an_unpriced_model() {
    let s = Sandbox::new();
    let o = s.run(&["prices", "show", "claude-sonnet-4-5-20250929"]);
    assert_ok("prices show", &o);
    let out = stdout(&o);
    assert!(
        out.contains("claude-sonnet-4-5-20250929: table entry 'claude-sonnet-4-5-20250929' (litellm-1.106.2@2026-10-21; litellm 1.106.2"),
        "{out}"
    );
    assert_eq!(rate(&out, "cache write (1 h)"), "6");
    // A built-in model name: its deployment's provider and id (Bedrock's US profile, 10% over).
    let o = s.run(&["prices", "show", "claude-sonnet-4-5"]);
    assert_ok("prices show", &o);
    let out = stdout(&o);
    assert!(
        out.contains(
            "claude-sonnet-4-5 (bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0, defined in"
        ) && out.contains("table entry 'us.anthropic.claude-sonnet-4-5-20250929-v1:0'"),
        "{out}"
    );
    assert_eq!(rate(&out, "input"), "3.3");

    s.write_config(
        "models.yaml",
        "model_list:\n  - model_name: cheap-sonnet\n    litellm_params:\n      model: anthropic/claude-sonnet-4-5\n    model_info:\n      input_cost_per_token: 1e-6\n",
    );
    let o = s.run(&["prices", "show", "cheap-sonnet"]);
    assert_ok("prices show", &o);
    let out = stdout(&o);
    assert!(out.contains("model_info of 'cheap-sonnet'"), "{out}");
    assert!(out.contains("table entry 'claude-sonnet-4-5'"), "{out}");
    assert_eq!(rate(&out, "input"), "1");
    assert_eq!(rate(&out, "output"), "15");

    let o = s.run(&["prices", "show", "claude-sonnet-4-5-foo"]);
    assert_ok("prices show", &o);
    assert!(stdout(&o).contains("no price"), "{}", stdout(&o));
}

#[test]
fn update_from_a_local_http_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        // Two requests: the table, then a 404.
        for status in ["200 OK", "404 Not Found"] {
            let (mut c, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf).unwrap();
            let body = if status.starts_with("200") {
                LITELLM
            } else {
                "no"
            };
            write!(
                c,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        }
    });
    let s = Sandbox::new();
    let url = format!("http://127.0.0.1:{port}/model_prices_and_context_window.json");
    let o = s.run(&["prices", "update", "--from", &url]);
    assert_ok("prices update --from URL", &o);
    assert!(written(&s)["models"]["acme/brainy-1"].is_object());
    assert!(written(&s)["source"].as_str().unwrap().starts_with(&url));

    let o = s.run(&["prices", "update", "--from", &url]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&url) && err.contains("404") && err.contains("--from FILE"),
        "{err}"
    );
    // The table written before is kept.
    assert!(written(&s)["models"]["acme/brainy-1"].is_object());
    server.join().unwrap();
}

#[test]
fn bad_sources_get_one_line_naming_them_and_the_fix() {
    let s = Sandbox::new();
    let missing = s.work().join("missing.json");
    let not_json = s.work().join("not.json");
    std::fs::write(&not_json, "{ nope").unwrap();
    let no_chat = s.work().join("embed.json");
    std::fs::write(&no_chat, r#"{"e": {"mode": "embedding"}}"#).unwrap();
    for (path, says) in [
        (&missing, "cannot read the price table"),
        (&not_json, "not JSON: line 1"),
        (&no_chat, "no chat model"),
    ] {
        let p = path.to_str().unwrap();
        let o = s.run(&["prices", "update", "--from", p]);
        assert_eq!(o.status.code(), Some(1), "{p}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(p) && err.contains(says) && err.contains("--from"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let url = format!("http://127.0.0.1:{}/x.json", crate::common::free_port());
    let o = s.run(&["prices", "update", "--from", &url]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&url), "{}", stderr(&o));
    assert!(!s.state_dir().join("prices.json").exists());
    // Usage errors: exit 2.
    assert_eq!(s.run(&["prices"]).status.code(), Some(2));
    assert_eq!(s.run(&["prices", "show"]).status.code(), Some(2));
}

#[test]
fn a_corrupt_state_table_is_named_by_show() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.state_dir()).unwrap();
    std::fs::write(s.state_dir().join("prices.json"), "[]").unwrap();
    let o = s.run(&["prices", "show", "gpt-4o"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("prices.json") && err.contains("prices update"),
        "{err}"
    );
}

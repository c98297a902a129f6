//! Authentication and secrets through the CLI: an empty master key from any source is no key,
//! and a definition's credentials never show — `/model/info`, `models show`, `models test`,
//! `profiles show`, `status` (also `--json`), the gateway log, `with --direct`'s errors and the
//! body of each error a request provokes (upstream 404, upstream 401, unreachable upstream).

use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::{Value, json};

/// Runs `serve --host 0.0.0.0` with `config` (config.yaml) and a blank `AGENT_SHIM_MASTER_KEY`,
/// and checks that a key was generated and that only it opens the gateway.
fn serve_public_with(config: &str) {
    let s = Sandbox::new();
    s.write_config("config.yaml", config);
    let mut child = s
        .cmd(&["serve", "--host", "0.0.0.0"])
        .env("AGENT_SHIM_MASTER_KEY", " ")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(10, "the gateway to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", s.port)).is_ok()
    });
    let secrets = std::fs::read_to_string(s.config_dir().join(".secrets")).unwrap();
    let key = secrets
        .lines()
        .find_map(|l| l.strip_prefix("AGENT_SHIM_MASTER_KEY: "))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("a key was generated into .secrets: {secrets}"));
    assert!(key.starts_with("sk-shim-") && key.len() == 48, "{key}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = s.base_url();
    let statuses: Vec<(String, u16)> = rt.block_on(async {
        let http = reqwest::Client::new();
        let mut out = Vec::new();
        for (name, value) in [
            ("x-api-key", String::new()),
            ("x-api-key", "  ".to_owned()),
            ("authorization", "Bearer".to_owned()),
            ("authorization", "Bearer  ".to_owned()),
            ("authorization", format!("Basic {key}")),
            ("x-api-key", key.clone()),
        ] {
            let r = http
                .post(format!("{base}/model/new"))
                .header(name, &value)
                .json(&json!({"model_name": "evil", "litellm_params": {
                    "model": "openai/x", "api_base": "http://127.0.0.1:9/v1",
                    "api_key": "os.environ/HOME"}}))
                .send()
                .await
                .unwrap();
            out.push((format!("{name}: {value:?}"), r.status().as_u16()));
        }
        out
    });
    let _ = child.kill();
    let _ = child.wait();
    let (last, rest) = statuses.split_last().unwrap();
    for (header, status) in rest {
        assert_eq!(*status, 401, "{header} must not authenticate ({config:?})");
    }
    assert_eq!(last.1, 200, "the generated key does ({config:?})");
}

#[test]
fn empty_master_key_is_no_key() {
    serve_public_with("master_key: \"\"\n");
    serve_public_with("master_key: \"   \"\n");
    serve_public_with("general_settings:\n  master_key: \"\"\n");
}

#[test]
fn empty_proxy_master_key_is_a_usage_error_naming_the_setting() {
    let s = Sandbox::new();
    s.write_config(
        "config.yaml",
        "proxy:\n  url: http://127.0.0.1:9\n  master_key: \" \"\n",
    );
    let o = s.run(&["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("proxy.master_key is missing or empty"),
        "{}",
        stderr(&o)
    );
}

/// Distinct secrets, one per place a definition, a profile or config.yaml can hold one.
const PLANTED: &[&str] = &[
    "PLANTED-URL-PASS-1",
    "PLANTED-LITERAL-KEY-2",
    "PLANTED-HEADER-3",
    "PLANTED-AWS-4",
    "PLANTED-VERTEX-5",
    "PLANTED-TOKEN-6",
    "PLANTED-ECHOED-KEY-7",
    "PLANTED-DOWN-PASS-8",
    "PLANTED-PROFILE-ENV-9",
    "PLANTED-ENV-URL-10",
    "PLANTED-PROXY-PASS-11",
    "PLANTED-BAD-URL-12",
];

fn assert_no_planted(what: &str, text: &str) {
    for p in PLANTED {
        assert!(!text.contains(p), "{what} shows {p}:\n{text}");
    }
}

fn leaky_model(name: &str, model: &str, base: &str, key: &str) -> String {
    format!(
        "  - model_name: {name}
    litellm_params:
      model: {model}
      api_base: {base}
      api_key: {key}
      extra_headers:
        X-Tenant-Auth: PLANTED-HEADER-3
      aws_secret_access_key: PLANTED-AWS-4
      aws_region_name: eu-west-1
      vertex_credentials:
        private_key: PLANTED-VERTEX-5
      my_service_token: PLANTED-TOKEN-6
"
    )
}

fn output_of(s: &Sandbox, args: &[&str]) -> String {
    let o = s.run(args);
    format!("{}{}", stdout(&o), stderr(&o))
}

#[test]
fn definitions_are_redacted_in_every_output() {
    let script = json!({"protocols": ["openai-chat"], "steps": [
        {"when": {"model": "nosuch"}, "reply": {"status": 404, "error": {"message": "The model `nosuch` does not exist"}}},
        {"when": {"model": "denied"}, "reply": {"status": 401, "error": {"type": "invalid_request_error",
            "message": "Incorrect API key provided: PLANTED-ECHOED-KEY-7."}}}
    ]});
    let fake = FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
    let addr = fake.addr();
    let s = Sandbox::new();
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:\n{}{}{}{}",
            leaky_model(
                "m404",
                "openai/nosuch",
                &format!("http://leak-user:PLANTED-URL-PASS-1@{addr}/v1"),
                "PLANTED-LITERAL-KEY-2"
            ),
            leaky_model(
                "m401",
                "openai/denied",
                &format!("http://{addr}/v1"),
                "PLANTED-ECHOED-KEY-7"
            ),
            leaky_model(
                "mdown",
                "openai/x",
                "http://leak-user:PLANTED-DOWN-PASS-8@127.0.0.1:9/v1",
                "PLANTED-LITERAL-KEY-2"
            ),
            leaky_model(
                "mbad",
                "openai/x",
                "leak-user:PLANTED-BAD-URL-12@127.0.0.1:9/v1",
                "PLANTED-LITERAL-KEY-2"
            ),
        ),
    );
    s.write_config(
        "profiles/leaky.yaml",
        "meta:\n  name: leaky\n  opus_model: m404\n  sonnet_model: m401\n  haiku_model: mdown\n  env:\n    LEAKY_TOKEN: PLANTED-PROFILE-ENV-9\n    LEAKY_URL: http://u:PLANTED-ENV-URL-10@h\n",
    );

    // Through the gateway: `models test` starts it and provokes each error.
    let tested = output_of(&s, &["models", "test", "leaky"]);
    assert_no_planted("models test", &tested);
    assert!(
        tested.contains("404") && tested.contains("401") && tested.contains("502"),
        "{tested}"
    );
    let info = serde_json::to_string(&get_json(&s, "/model/info")).unwrap();
    assert_no_planted("/model/info", &info);
    assert!(
        info.contains("leak-user:[redacted]@") && info.contains("eu-west-1"),
        "{info}"
    );
    let key = master_key(&s);
    for (model, status) in [("m404", 404), ("m401", 401), ("mdown", 502)] {
        let body = json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        let (got, text) = post_json(&format!("{}/v1/messages", s.base_url()), &key, &body)
            .expect("the gateway answers");
        assert_eq!(got, status, "{model}: {text}");
        assert_no_planted(&format!("the {model} error body"), &text);
        let (got, text) = post_json(
            &format!("{}/v1/chat/completions", s.base_url()),
            &key,
            &body,
        )
        .expect("the gateway answers");
        assert_eq!(got, status, "{model} (chat): {text}");
        assert_no_planted(&format!("the {model} chat error body"), &text);
    }
    gateway_log_with(&s, "upstream attempt failed");
    let log = gateway_log_with(&s, "not serving");
    assert_no_planted("the gateway log", &log);
    assert!(
        log.contains("leak-user:[redacted]@127.0.0.1:9"),
        "the log still names the URL: {log}"
    );

    for m in ["m404", "m401", "mdown", "mbad"] {
        let shown = output_of(&s, &["models", "show", m]);
        assert_no_planted(&format!("models show {m}"), &shown);
        assert!(shown.contains("X-Tenant-Auth"), "{shown}");
    }
    let shown = output_of(&s, &["profiles", "show", "leaky"]);
    assert_no_planted("profiles show", &shown);
    assert!(
        shown.contains("LEAKY_TOKEN=[redacted]") && shown.contains("leak-user:[redacted]@"),
        "{shown}"
    );
    assert_no_planted("status --json", &output_of(&s, &["status", "--json"]));
    assert_no_planted("status", &output_of(&s, &["status"]));
    let direct = output_of(&s, &["with", "leaky", "--direct", "--", "true"]);
    assert_no_planted("with --direct", &direct);
    assert!(direct.contains("mixes endpoints"), "{direct}");

    // An external proxy's URL credentials.
    let p = Sandbox::new();
    p.write_config(
        "config.yaml",
        "proxy:\n  url: http://proxy-user:PLANTED-PROXY-PASS-11@127.0.0.1:9\n  master_key: sk-proxy\n",
    );
    let status: Value = serde_json::from_str(&stdout(&p.run(&["status", "--json"]))).unwrap();
    assert_eq!(
        status["gateway"]["url"],
        "http://proxy-user:[redacted]@127.0.0.1:9"
    );
    assert_no_planted("status (external proxy)", &output_of(&p, &["status"]));
    let tested = output_of(&p, &["models", "test", "demo"]);
    assert_no_planted("models test (external proxy)", &tested);
}

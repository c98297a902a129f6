//! Starting a gateway and a fake upstream for one test.

use fake_provider::{FakeProvider, Script};
use gateway::{
    Gateway, GatewayConfig, LitellmParams, ModelDefinition, RouterSettings, SecretString, Timeouts,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub const MASTER_KEY: &str = "sk-shim-test-master";

pub struct Running {
    pub base: String,
    pub http: reqwest::Client,
}

/// A model definition for `model` at the fake upstream.
pub fn def(name: &str, model: &str, api_base: &str) -> ModelDefinition {
    ModelDefinition {
        model_name: name.into(),
        litellm_params: LitellmParams {
            model: model.into(),
            api_base: Some(api_base.into()),
            api_key: SecretString::new("sk-upstream"),
            ..LitellmParams::default()
        },
        model_info: Default::default(),
    }
}

pub async fn fake(script: Value) -> FakeProvider {
    FakeProvider::start(Script::from_json(&script.to_string()).expect("valid script"))
        .await
        .expect("fake starts")
}

pub async fn gateway(models: Vec<ModelDefinition>) -> Running {
    gateway_with(
        models,
        HashMap::new(),
        RouterSettings {
            num_retries: 1,
            max_retry_after: Duration::from_secs(2),
            ..RouterSettings::default()
        },
    )
    .await
}

pub async fn gateway_with(
    models: Vec<ModelDefinition>,
    secrets: HashMap<String, String>,
    router: RouterSettings,
) -> Running {
    gateway_full(config(
        models,
        secrets,
        router,
        gateway::Registered::All,
        None,
    ))
    .await
}

/// Serves `config` the binary's way: two worker threads, each with its own runtime.
pub async fn gateway_full(config: GatewayConfig) -> Running {
    let (running, g) = bind(config).await;
    tokio::spawn(g.serve_workers(2, std::future::pending()));
    running
}

/// The gateway configuration the tests use: the master key, short pings.
pub fn config(
    models: Vec<ModelDefinition>,
    secrets: HashMap<String, String>,
    router: RouterSettings,
    registered: gateway::Registered,
    lease_sink: Option<Arc<dyn gateway::LeaseSink>>,
) -> GatewayConfig {
    GatewayConfig {
        models,
        profiles: HashMap::new(),
        default_profile: None,
        model_group_alias: HashMap::new(),
        registered,
        lease_sink,
        master_key: SecretString::new(MASTER_KEY),
        secrets: Arc::new(secrets),
        router,
        timeouts: Timeouts {
            ping: Duration::from_millis(200),
            ..Timeouts::default()
        },
        // Not the environment's: the tests' upstreams are local.
        upstream_proxy: gateway::UpstreamProxy::none(),
        max_request_body: gateway::DEFAULT_MAX_REQUEST_BODY,
        instance: gateway::Instance::default(),
        source: None,
        ledger: Default::default(),
        shared: None,
    }
}

/// A gateway bound to a free loopback port, not yet serving.
pub async fn bind(config: GatewayConfig) -> (Running, Gateway) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (g, errors) = Gateway::with_listener(listener, config);
    assert!(errors.is_empty(), "{errors:?}");
    let addr = g.local_addr().unwrap();
    let running = Running {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    };
    (running, g)
}

impl Running {
    /// POSTs `body` to `path` with the master key and Claude Code's headers.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("x-api-key", MASTER_KEY)
            .header("anthropic-version", "2023-06-01")
            .header(
                "anthropic-beta",
                "claude-code-20250219,interleaved-thinking-2025-05-14",
            )
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

/// A Claude-Code-shaped request.
pub fn claude_request(model: &str, stream: bool) -> Value {
    serde_json::json!({
        "model": model, "max_tokens": 32000, "stream": stream, "temperature": 1,
        "metadata": {"user_id": "u"}, "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "List the files."}]}],
        "tools": [{"name": "Bash", "description": "Run a command",
                   "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}]
    })
}

/// Reads one HTTP/1.1 request off a raw connection: its head and its `content-length` body (for
/// tests whose upstream is a hand-written server).
pub async fn read_raw_request(sock: &mut tokio::net::TcpStream) -> Vec<u8> {
    read_raw_request_or_eof(sock)
        .await
        .expect("the gateway closed before sending its whole request")
}

/// [`read_raw_request`], or `None` when the connection ends (or fails) before a whole request:
/// for hand-written upstreams that serve several requests per connection.
pub async fn read_raw_request_or_eof(sock: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    loop {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            if buf.len() >= end + 4 + len {
                return Some(buf);
            }
        }
    }
}

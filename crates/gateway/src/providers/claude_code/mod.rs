//! The `claude-code` provider (issue 10 §1): `claude-code/<model>` runs the user's own `claude`
//! CLI headless as the upstream, in stream-json on both sides (field-2026-11.md §3.2, §3.3).
//!
//! - The deployment speaks Anthropic Messages: the encoded request becomes the CLI's system
//!   prompt and one stream-json user message ([`input`]); the CLI's stdout lines become
//!   Anthropic SSE or one Messages JSON ([`lines`]), so every client protocol is served by the
//!   usual codecs.
//! - No built-in tools, no MCP servers, no user settings, no session files. Requests carrying
//!   tools are refused with a 400.
//! - `litellm_params` (each may be `os.environ/NAME`): `claude_path` (default `claude` on PATH),
//!   `timeout` (seconds, default 600), `extra_env` (a map of environment for the CLI), `cwd`
//!   (default: an empty private directory under the system temp directory).
//! - The child runs in its own process group, killed when the answer is dropped (a client that
//!   disconnects), finished or timed out. An inherited `CLAUDE_CODE_OAUTH_TOKEN` or
//!   `ANTHROPIC_API_KEY` is dropped from its environment unless `extra_env` sets it.

pub mod input;
pub mod lines;
mod process;

use crate::providers::deployment::{Deployment, Endpoint};
use crate::secrets::SecretSource;
use crate::transport::{Answer, Outgoing, Transport, TransportKind};
use crate::upstream::{Upstream, UpstreamError};
use futures_util::future::BoxFuture;
use protocol::ir::{ApiError, ErrorKind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The table row's value for `claude-code`.
pub static CLAUDE_CODE: ClaudeCodeKind = ClaudeCodeKind;

/// The npm package that provides the CLI, for the not-found error.
pub const NPM_PACKAGE: &str = "@anthropic-ai/claude-code";

/// Default `timeout`: a whole answer, from spawn to `result`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// [`TransportKind`] of `claude-code` deployments.
#[derive(Debug)]
pub struct ClaudeCodeKind;

impl TransportKind for ClaudeCodeKind {
    fn api_mode_applies(&self) -> bool {
        false
    }

    fn needs_api_base(&self) -> bool {
        false
    }

    fn build(
        &self,
        d: &Deployment,
        secrets: &dyn SecretSource,
    ) -> Result<Box<dyn Transport>, String> {
        let other = &d.definition.litellm_params.other;
        let resolve = |key: &str, v: &Value| -> Result<Option<String>, String> {
            let s = match v {
                Value::Null => return Ok(None),
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(format!("litellm_params.{key} must be a string")),
            };
            match s.strip_prefix("os.environ/") {
                Some(var) => Ok(secrets.get(var).map(|v| v.expose().to_owned())),
                None => Ok(Some(s)),
            }
        };
        let get = |key: &str| match other.get(key) {
            Some(v) => resolve(key, v),
            None => Ok(None),
        };
        let claude_path = get("claude_path")?
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "claude".to_owned());
        let timeout = match get("timeout")? {
            None => DEFAULT_TIMEOUT,
            Some(t) => t
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    format!("litellm_params.timeout '{t}' is not a positive number of seconds")
                })?,
        };
        let mut extra_env = BTreeMap::new();
        match other.get("extra_env") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    if let Some(v) = resolve(&format!("extra_env.{k}"), v)? {
                        extra_env.insert(k.clone(), v);
                    }
                }
            }
            Some(_) => {
                return Err(
                    "litellm_params.extra_env must be a map of variable names to values".into(),
                );
            }
        }
        let cwd = get("cwd")?
            .filter(|c| !c.trim().is_empty())
            .map(PathBuf::from);
        Ok(Box::new(ClaudeCodeTransport {
            claude_path,
            timeout,
            extra_env,
            cwd,
            private_dir: std::env::temp_dir()
                .join(format!("agent-shim-claude-code-{}", crate::ids::new_id(""))),
        }))
    }
}

/// A `claude-code` deployment's way to the CLI.
pub struct ClaudeCodeTransport {
    claude_path: String,
    timeout: Duration,
    extra_env: BTreeMap<String, String>,
    /// `litellm_params.cwd`.
    cwd: Option<PathBuf>,
    /// The working directory when no `cwd` is given, created on first use.
    private_dir: PathBuf,
}

impl ClaudeCodeTransport {
    async fn working_dir(&self) -> Result<PathBuf, UpstreamError> {
        if let Some(c) = &self.cwd {
            return Ok(c.clone());
        }
        let mut b = tokio::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        b.mode(0o700);
        b.create(&self.private_dir).await.map_err(|e| {
            UpstreamError::fatal(ApiError::new(
                ErrorKind::Api,
                format!(
                    "cannot create the claude-code working directory {}: {e}",
                    self.private_dir.display()
                ),
            ))
        })?;
        Ok(self.private_dir.clone())
    }

    async fn run(&self, d: &Deployment, out: Outgoing<'_>) -> Result<Answer, UpstreamError> {
        if out.endpoint == Endpoint::CountTokens {
            return Err(UpstreamError::fatal(ApiError::new(
                ErrorKind::InvalidRequest,
                "token counting is done locally for claude-code models",
            )));
        }
        let input = match input::cli_input(&out.body) {
            Ok(i) => i,
            Err(input::Refused::Tools) => {
                return Err(UpstreamError::fatal(ApiError::new(
                    ErrorKind::InvalidRequest,
                    format!(
                        "tool calling is not available through the claude-code provider (model '{}'); \
                         send the request without `tools`",
                        d.model_name()
                    ),
                )));
            }
            Err(input::Refused::Malformed(m)) => {
                return Err(UpstreamError::fatal(ApiError::new(
                    ErrorKind::InvalidRequest,
                    m,
                )));
            }
        };
        let cwd = self.working_dir().await?;
        let spec = process::Spec {
            claude_path: &self.claude_path,
            model: &d.upstream_model,
            system: &input.system,
            cwd: &cwd,
            extra_env: &self.extra_env,
            timeout: self.timeout,
            model_name: d.model_name(),
        };
        let run = process::Run::spawn(&spec, input.stdin)?;
        if out.stream {
            run.stream().await
        } else {
            run.whole().await
        }
    }
}

impl Transport for ClaudeCodeTransport {
    fn send<'a>(
        &'a self,
        _: &'a Upstream,
        d: &'a Deployment,
        out: Outgoing<'a>,
    ) -> BoxFuture<'a, Result<Answer, UpstreamError>> {
        Box::pin(self.run(d, out))
    }

    fn shown_url(&self, _: Endpoint, _: bool) -> String {
        format!("claude-code ({})", self.claude_path)
    }
}

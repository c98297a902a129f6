//! The `claude-code` provider (issue 10 §1): `claude-code/<model>` runs the user's own `claude`
//! CLI headless as the upstream, in stream-json on both sides (field-2026-11.md §3.2, §3.3).
//!
//! - The deployment speaks Anthropic Messages: the encoded request becomes the CLI's system
//!   prompt and one stream-json user message ([`input`]); the CLI's stdout lines become
//!   Anthropic SSE or one Messages JSON ([`lines`], [`report`]), so every client protocol is
//!   served by the usual codecs. `total_cost_usd` becomes the request's reported cost.
//! - Conversations continue their CLI session with `--resume`, sending only the new turn
//!   ([`session`]); runs are limited per model group ([`group`]).
//! - No built-in tools, no MCP servers, no user settings. Requests carrying tools are refused
//!   with a 400.
//! - `litellm_params` (each may be `os.environ/NAME`): `claude_path` (default `claude` on PATH),
//!   `timeout` (seconds, default 600; also the longest wait for a free slot), `max_concurrency`
//!   (default 2), `max_sessions` (default 256), `session_ttl` (seconds idle, default 3600),
//!   `extra_env` (a map of environment for the CLI), `cwd` (default: the harness's own directory,
//!   `<state dir>/claude-code`).
//! - The child runs in its own process group, killed when the answer is dropped (a client that
//!   disconnects), finished or timed out. An inherited `CLAUDE_CODE_OAUTH_TOKEN` or
//!   `ANTHROPIC_API_KEY` is dropped from its environment unless `extra_env` sets it; the CLI's
//!   OAuth tokens are never read.

pub mod group;
pub mod input;
pub mod lines;
mod process;
pub mod report;
pub mod session;

use crate::providers::deployment::{Deployment, Endpoint};
use crate::secrets::SecretSource;
use crate::transport::{Answer, Outgoing, Transport, TransportKind};
use crate::upstream::{Upstream, UpstreamError};
use futures_util::future::BoxFuture;
use input::Conversation;
use protocol::ir::{ApiError, ErrorKind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;

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
            Some(t) => seconds(&t).ok_or_else(|| {
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
        let count = |key: &str, default: usize| -> Result<usize, String> {
            match get(key)? {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        format!("litellm_params.{key} '{v}' is not a positive whole number")
                    }),
            }
        };
        let max_concurrency = count("max_concurrency", group::DEFAULT_MAX_CONCURRENCY)?;
        let max_sessions = count("max_sessions", group::DEFAULT_MAX_SESSIONS)?;
        let session_ttl = match get("session_ttl")? {
            None => group::DEFAULT_SESSION_TTL,
            Some(t) => seconds(&t).ok_or_else(|| {
                format!("litellm_params.session_ttl '{t}' is not a positive number of seconds")
            })?,
        };
        let cwd = get("cwd")?
            .filter(|c| !c.trim().is_empty())
            .map(PathBuf::from);
        let owns_cwd = cwd.is_none();
        let cwd = cwd.unwrap_or_else(group::harness_dir);
        let settings = group::GroupSettings {
            max_concurrency,
            max_sessions,
            session_ttl,
            files: session::SessionFiles {
                config_dir: group::config_dir(&extra_env),
                cwd: cwd.clone(),
            },
            owns_cwd,
        };
        Ok(Box::new(ClaudeCodeTransport {
            claude_path,
            timeout,
            extra_env,
            cwd,
            owns_cwd,
            group: group::group(d.model_name(), settings),
        }))
    }
}

/// A positive, finite number of seconds.
fn seconds(s: &str) -> Option<Duration> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
}

/// A `claude-code` deployment's way to the CLI.
pub struct ClaudeCodeTransport {
    claude_path: String,
    timeout: Duration,
    extra_env: BTreeMap<String, String>,
    /// The runs' working directory.
    cwd: PathBuf,
    /// `cwd` is the harness's own (created on first use).
    owns_cwd: bool,
    /// Slots and sessions shared by the model group.
    group: Arc<group::Group>,
}

fn fatal(kind: ErrorKind, message: String) -> UpstreamError {
    UpstreamError::fatal(ApiError::new(kind, message))
}

impl ClaudeCodeTransport {
    async fn working_dir(&self) -> Result<(), UpstreamError> {
        if !self.owns_cwd {
            return Ok(());
        }
        let mut b = tokio::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        b.mode(0o700);
        b.create(&self.cwd).await.map_err(|e| {
            fatal(
                ErrorKind::Api,
                format!(
                    "cannot create the claude-code working directory {}: {e}",
                    self.cwd.display()
                ),
            )
        })
    }

    async fn run(&self, d: &Deployment, out: Outgoing<'_>) -> Result<Answer, UpstreamError> {
        if out.endpoint == Endpoint::CountTokens {
            return Err(fatal(
                ErrorKind::InvalidRequest,
                "token counting is done locally for claude-code models".into(),
            ));
        }
        let conv = match Conversation::parse(&out.body) {
            Ok(c) => c,
            Err(input::Refused::Tools) => {
                return Err(fatal(
                    ErrorKind::InvalidRequest,
                    format!(
                        "tool calling is not available through the claude-code provider (model '{}'); \
                         send the request without `tools`",
                        d.model_name()
                    ),
                ));
            }
            Err(input::Refused::Malformed(m)) => return Err(fatal(ErrorKind::InvalidRequest, m)),
        };
        let permit = self.slot(d).await?;
        self.working_dir().await?;
        let header = session::Sessions::header(out.client_headers);
        let mut turn = self.group.sessions.begin(&conv, header.clone()).await;
        loop {
            let resumed = turn.as_ref().is_some_and(|t| t.resumed);
            if let Some(t) = turn.as_ref().filter(|_| !resumed && conv.earlier() > 0) {
                tracing::info!(
                    model = %d.model_name(), session = %t.id, earlier_turns = conv.earlier(),
                    "claude-code: no session holds this conversation (first request since the \
                     gateway started, or an edited history): a new session starts with the \
                     earlier turns as context"
                );
            }
            let stdin = if resumed {
                conv.new_turn()
            } else {
                conv.with_context()
            };
            let spec = process::Spec {
                claude_path: &self.claude_path,
                model: &d.upstream_model,
                system: &conv.system,
                cwd: &self.cwd,
                extra_env: &self.extra_env,
                timeout: self.timeout,
                model_name: d.model_name(),
            };
            let run = process::Run::spawn(&spec, stdin, turn.take(), permit.clone())?;
            let answer = if out.stream {
                run.stream().await
            } else {
                run.whole().await
            };
            match answer {
                Err(e) if resumed && e.error.message.contains("No conversation found") => {
                    tracing::info!(model = %d.model_name(),
                        "claude-code: the CLI no longer has the session; starting a new one");
                    turn = self.group.sessions.begin(&conv, header.clone()).await;
                }
                other => return other,
            }
        }
    }

    /// Waits (at most `timeout`) for one of the group's `max_concurrency` slots.
    async fn slot(&self, d: &Deployment) -> Result<Arc<OwnedSemaphorePermit>, UpstreamError> {
        let slots = self.group.slots.clone();
        match tokio::time::timeout(self.timeout, slots.acquire_owned()).await {
            Ok(Ok(p)) => Ok(Arc::new(p)),
            Ok(Err(_)) | Err(_) => Err(fatal(
                ErrorKind::Timeout,
                format!(
                    "all {} Claude Code CLI runs of model '{}' stayed busy for {} s \
                     (litellm_params.max_concurrency, litellm_params.timeout)",
                    self.group.settings.max_concurrency,
                    d.model_name(),
                    self.timeout.as_secs_f64()
                ),
            )),
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

//! One CLI run: spawned in its own process group, its stdout read line by line (bounded), its
//! stderr kept (the first few KiB) for errors, the whole group killed when the run is dropped.

use super::NPM_PACKAGE;
use super::lines::{Mapper, Step, Whole};
use super::report::{Failure, Report};
use super::session::Turn;
use crate::transport::{Answer, BodyError, BodyStream, ReportedCost};
use crate::upstream::UpstreamError;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, header};
use protocol::ir::{ApiError, ErrorKind};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Longest stdout line read; a longer one fails the request.
const MAX_LINE: u64 = 16 << 20;
/// How long a CLI that answered may take to write its session and exit.
const EXIT_GRACE: Duration = Duration::from_secs(10);
/// How much of stderr errors quote.
const MAX_STDERR: usize = 8 << 10;

/// Whether an inherited variable is dropped from the CLI's environment (unless `extra_env` sets
/// it): credentials other than the CLI's own login (`CLAUDE_CODE_OAUTH_TOKEN`, `ANTHROPIC_*`
/// keys), and whatever routes it elsewhere — a gateway started from a shell that agent-shim set
/// up inherits `ANTHROPIC_BASE_URL` pointing at itself, and the CLI would call the gateway that
/// called it (`ANTHROPIC_*`, `CLAUDE_CODE_USE_*`, the model and window overrides).
pub fn dropped_env(name: &str) -> bool {
    name.starts_with("ANTHROPIC_")
        || name.starts_with("CLAUDE_CODE_USE_")
        || matches!(
            name,
            "CLAUDE_CODE_OAUTH_TOKEN"
                | "CLAUDECODE"
                | "CLAUDE_CODE_API_BASE_URL"
                | "CLAUDE_CODE_SUBAGENT_MODEL"
                | "CLAUDE_CODE_MAX_CONTEXT_TOKENS"
                | "CLAUDE_CODE_DISABLE_1M_CONTEXT"
                | "CLAUDE_CODE_ENTRYPOINT"
        )
}

/// Variables set unless `extra_env` sets them: no title generation, telemetry or update checks
/// (each an extra model call or connection per run).
const QUIET_ENV: &[(&str, &str)] = &[("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")];

/// How to run the CLI for one request.
pub struct Spec<'a> {
    pub claude_path: &'a str,
    pub model: &'a str,
    pub system: &'a str,
    pub cwd: &'a Path,
    pub extra_env: &'a BTreeMap<String, String>,
    pub timeout: Duration,
    /// The deployment's model name, for messages.
    pub model_name: &'a str,
}

/// A running CLI.
pub struct Run {
    /// `None` once handed to the reaper of a finished run.
    child: Option<Child>,
    pgid: Option<rustix::process::Pid>,
    stdout: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    deadline: Instant,
    timeout: Duration,
    claude_path: String,
    model_name: String,
    /// The session this run continues or starts, committed when it answers in full.
    turn: Option<Turn>,
    /// The group slot held while the CLI runs.
    permit: Arc<OwnedSemaphorePermit>,
    cost: Arc<ReportedCost>,
}

impl Drop for Run {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// A line read, or why none was.
enum Read {
    Line,
    Eof,
    Timeout,
    Failed(String),
}

fn api(kind: ErrorKind, status: u16, message: String) -> ApiError {
    ApiError {
        kind,
        status,
        message,
    }
}

impl Run {
    /// Spawns the CLI on `turn`'s session (`--resume` or `--session-id`; none: no session
    /// files) and writes `stdin` to it (then closes it). The run holds `permit` until it ends.
    pub fn spawn(
        spec: &Spec<'_>,
        stdin: Vec<u8>,
        turn: Option<Turn>,
        permit: Arc<OwnedSemaphorePermit>,
    ) -> Result<Run, UpstreamError> {
        let mut cmd = Command::new(spec.claude_path);
        cmd.args([
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--tools",
            "",
            "--strict-mcp-config",
            "--setting-sources",
            "",
            "--model",
            spec.model,
            "--system-prompt",
            spec.system,
        ])
        .current_dir(spec.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
        match &turn {
            Some(t) if t.resumed => cmd.args(["--resume", &t.id]),
            Some(t) => cmd.args(["--session-id", &t.id]),
            None => cmd.arg("--no-session-persistence"),
        };
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(dropped_env) {
                cmd.env_remove(name);
            }
        }
        for (k, v) in QUIET_ENV {
            cmd.env(k, v);
        }
        cmd.envs(spec.extra_env);
        let mut child = cmd.spawn().map_err(|e| {
            let message = if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "the Claude Code CLI was not found at litellm_params.claude_path '{}' (model '{}'): \
                     install it with `npm install -g {NPM_PACKAGE}`, or set claude_path to its full path",
                    spec.claude_path, spec.model_name
                )
            } else {
                format!(
                    "cannot start the Claude Code CLI '{}' (litellm_params.claude_path, model '{}'): {e}",
                    spec.claude_path, spec.model_name
                )
            };
            UpstreamError::fatal(api(ErrorKind::Api, 502, message))
        })?;
        let pgid = child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32));
        if let Some(mut w) = child.stdin.take() {
            tokio::spawn(async move {
                // A CLI that exits early closes its stdin: its exit status says why.
                let _ = w.write_all(&stdin).await;
                let _ = w.shutdown().await;
            });
        }
        let stderr = child.stderr.take().map(|mut e| {
            tokio::spawn(async move {
                let mut kept = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    match e.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let room = MAX_STDERR.saturating_sub(kept.len());
                            kept.extend_from_slice(&buf[..n.min(room)]);
                        }
                    }
                }
                kept
            })
        });
        let Some(stdout) = child.stdout.take() else {
            return Err(UpstreamError::fatal(api(
                ErrorKind::Api,
                502,
                "the Claude Code CLI has no stdout".into(),
            )));
        };
        Ok(Run {
            child: Some(child),
            pgid,
            stdout: BufReader::new(stdout),
            stderr,
            deadline: Instant::now() + spec.timeout,
            timeout: spec.timeout,
            claude_path: spec.claude_path.to_owned(),
            model_name: spec.model_name.to_owned(),
            turn,
            permit,
            cost: Arc::new(ReportedCost::default()),
        })
    }

    /// The answer is complete: its cost is recorded, and when it succeeded the CLI is left to
    /// finish writing its session and exit (within [`EXIT_GRACE`], else its group is killed);
    /// the session is kept once it exited cleanly.
    fn finished(&mut self, report: &Report) {
        if let Some(c) = report.cost_usd {
            self.cost.set(c);
        }
        let (Some(turn), Some(mut child), true) =
            (self.turn.take(), self.child.take(), report.succeeded())
        else {
            self.kill_group();
            return;
        };
        let pgid = self.pgid.take();
        let exit = turn.commit(&report.text);
        // The slot is the CLI's until it exited.
        let permit = self.permit.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let status = tokio::time::timeout(EXIT_GRACE, child.wait()).await;
            if let Some(p) = pgid {
                let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
            }
            exit.exited(matches!(status, Ok(Ok(s)) if s.success()));
        });
    }

    fn kill_group(&mut self) {
        if let Some(p) = self.pgid.take() {
            let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
        }
    }

    async fn read_line(&mut self, buf: &mut Vec<u8>) -> Read {
        buf.clear();
        let mut limited = (&mut self.stdout).take(MAX_LINE);
        let read = limited.read_until(b'\n', buf);
        match tokio::time::timeout_at(self.deadline, read).await {
            Err(_) => Read::Timeout,
            Ok(Err(e)) => Read::Failed(format!("reading the CLI's output failed: {e}")),
            Ok(Ok(0)) => Read::Eof,
            Ok(Ok(_)) if buf.len() as u64 >= MAX_LINE && !buf.ends_with(b"\n") => Read::Failed(
                format!("the CLI wrote a line longer than {} MiB", MAX_LINE >> 20),
            ),
            Ok(Ok(_)) => Read::Line,
        }
    }

    /// The CLI's exit status (waited for briefly) and the start of its stderr.
    async fn exit(&mut self) -> (Option<ExitStatus>, String) {
        let status = match self.child.as_mut() {
            Some(c) => tokio::time::timeout(Duration::from_secs(5), c.wait())
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        };
        // Whatever the CLI left in its group goes with it.
        self.kill_group();
        let stderr = match self.stderr.take() {
            Some(h) => tokio::time::timeout(Duration::from_secs(1), h)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        (status, String::from_utf8_lossy(&stderr).trim().to_owned())
    }

    fn timed_out(&mut self) -> UpstreamError {
        self.kill_group();
        UpstreamError::fatal(api(
            ErrorKind::Timeout,
            504,
            format!(
                "the Claude Code CLI did not finish the answer for model '{}' within {} s \
                 (litellm_params.timeout); it was stopped",
                self.model_name,
                self.timeout.as_secs_f64()
            ),
        ))
    }

    /// The error for a run that ended without an answer.
    async fn failed(&mut self, failure: Option<Failure>, why: Option<String>) -> UpstreamError {
        if failure.is_some() {
            // The CLI may still be retrying: its exit status adds nothing.
            self.kill_group();
        }
        let (status, stderr) = self.exit().await;
        let said = failure
            .as_ref()
            .map(|f| f.message.clone())
            .or(why)
            .unwrap_or_default();
        let text = format!("{said}\n{stderr}");
        let brief = |s: &str| -> String {
            let s = s.trim();
            match s.char_indices().nth(500) {
                Some((i, _)) => format!("{}…", &s[..i]),
                None => s.to_owned(),
            }
        };
        let quoted = brief(if said.is_empty() { &stderr } else { &said });
        let retry_after = failure.as_ref().and_then(|f| f.retry_after);
        let api_status = failure.and_then(|f| f.api_status);
        let lower = text.to_ascii_lowercase();
        if api_status == Some(401)
            || lower.contains("invalid api key")
            || lower.contains("please run /login")
            || lower.contains("not logged in")
            || lower.contains("401")
        {
            return UpstreamError::fatal(api(
                crate::providers::bedrock::credentials::DEPLOYMENT_IDENTITY,
                ErrorKind::Permission.status(),
                format!(
                    "the Claude Code CLI for model '{}' is not logged in: run `claude` once and \
                     `/login` as the user the gateway runs as (the CLI said: {quoted})",
                    self.model_name
                ),
            ));
        }
        if api_status == Some(429) {
            let mut e = UpstreamError::fatal(api(
                ErrorKind::RateLimit,
                429,
                format!(
                    "the Claude Code CLI for model '{}' is rate limited: {quoted}",
                    self.model_name
                ),
            ));
            e.retry_after = retry_after.map(HeaderValue::from);
            return e;
        }
        let exited = match status {
            Some(s) => format!("exited with {s}"),
            None => "stopped".to_owned(),
        };
        UpstreamError::fatal(api(
            ErrorKind::Api,
            502,
            format!(
                "the Claude Code CLI '{}' {exited} without an answer for model '{}': {}",
                self.claude_path,
                self.model_name,
                if quoted.is_empty() {
                    "(nothing on stderr)".to_owned()
                } else {
                    quoted
                }
            ),
        ))
    }

    /// Reads until the first SSE bytes, then streams the rest; errors before output are
    /// [`UpstreamError`]s.
    pub async fn stream(mut self) -> Result<Answer, UpstreamError> {
        let mut mapper = Mapper::default();
        let mut line = Vec::new();
        let mut first = BytesMut::new();
        let done = loop {
            match self.read_line(&mut line).await {
                Read::Timeout => return Err(self.timed_out()),
                Read::Eof => return Err(self.failed(None, None).await),
                Read::Failed(why) => return Err(self.failed(None, Some(why)).await),
                Read::Line => {}
            }
            let step = match mapper.line(&line, &mut first) {
                Ok(s) => s,
                Err(why) => {
                    tracing::warn!(model = %self.model_name, "claude-code: {why}");
                    return Err(self.failed(None, Some(why)).await);
                }
            };
            if let Some(f) = mapper.report.failure.clone() {
                if !mapper.started() {
                    return Err(self.failed(Some(f), None).await);
                }
                // Begun and failed: the error event ends the stream.
                self.kill_group();
                break true;
            }
            if step == Step::Done {
                self.finished(&mapper.report);
                break true;
            }
            if mapper.started() && !first.is_empty() && !mapper.stopped() {
                break false;
            }
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        let first = futures_util::stream::once(std::future::ready(Ok(first.freeze())));
        let cost = self.cost.clone();
        let rest = futures_util::stream::unfold(
            (self, mapper, line, done),
            |(mut run, mut mapper, mut line, done)| async move {
                if done {
                    return None;
                }
                let mut out = BytesMut::new();
                loop {
                    let fail = |timeout: bool, cause: String| BodyError { timeout, cause };
                    let err = match run.read_line(&mut line).await {
                        Read::Line => None,
                        Read::Timeout => {
                            run.kill_group();
                            Some(fail(
                                true,
                                format!(
                                    "the Claude Code CLI did not finish within {} s \
                                     (litellm_params.timeout); it was stopped",
                                    run.timeout.as_secs_f64()
                                ),
                            ))
                        }
                        Read::Eof => {
                            let (_, stderr) = run.exit().await;
                            Some(fail(
                                false,
                                format!(
                                    "the Claude Code CLI exited before finishing the answer: {}",
                                    stderr.chars().take(500).collect::<String>()
                                ),
                            ))
                        }
                        Read::Failed(why) => Some(fail(false, why)),
                    };
                    if let Some(e) = err {
                        return Some((Err(e), (run, mapper, line, true)));
                    }
                    match mapper.line(&line, &mut out) {
                        Err(why) => {
                            tracing::warn!(model = %run.model_name, "claude-code: {why}");
                            return Some((Err(fail(false, why)), (run, mapper, line, true)));
                        }
                        Ok(step) => {
                            let done = step == Step::Done;
                            if done {
                                run.finished(&mapper.report);
                            }
                            if (!out.is_empty() && !mapper.stopped()) || done {
                                let chunk = std::mem::take(&mut out).freeze();
                                return Some((Ok(chunk), (run, mapper, line, done)));
                            }
                        }
                    }
                }
            },
        );
        use futures_util::StreamExt;
        let cost = Some(cost);
        let body: BodyStream = Box::pin(first.chain(rest));
        Ok(Answer {
            headers,
            body,
            cost,
        })
    }

    /// Reads the whole run into one Messages JSON.
    pub async fn whole(mut self) -> Result<Answer, UpstreamError> {
        let mut whole = Whole::default();
        let mut line = Vec::new();
        loop {
            match self.read_line(&mut line).await {
                Read::Timeout => return Err(self.timed_out()),
                Read::Eof => return Err(self.failed(None, None).await),
                Read::Failed(why) => return Err(self.failed(None, Some(why)).await),
                Read::Line => {}
            }
            match whole.line(&line) {
                Err(why) => {
                    tracing::warn!(model = %self.model_name, "claude-code: {why}");
                    return Err(self.failed(None, Some(why)).await);
                }
                Ok(Step::Done) => break,
                Ok(Step::More) => {}
            }
        }
        if let Some(f) = whole.report.failure.clone() {
            return Err(self.failed(Some(f), None).await);
        }
        let message = whole.message();
        self.finished(&whole.report);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(c) = self.cost.get()
            && let Ok(v) = HeaderValue::from_str(&c.to_string())
        {
            headers.insert(crate::transport::COST_HEADER, v);
        }
        let body = Bytes::from(message.to_string());
        let body: BodyStream = Box::pin(futures_util::stream::once(std::future::ready(Ok(body))));
        Ok(Answer {
            headers,
            body,
            cost: Some(self.cost.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::dropped_env;

    #[test]
    fn what_would_send_the_cli_elsewhere_is_not_inherited() {
        for v in [
            "ANTHROPIC_BASE_URL",
            "ANTHROPIC_AUTH_TOKEN",
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_DEFAULT_SONNET_MODEL",
            "ANTHROPIC_CUSTOM_HEADERS",
            "CLAUDE_CODE_OAUTH_TOKEN",
            "CLAUDE_CODE_USE_BEDROCK",
            "CLAUDE_CODE_MAX_CONTEXT_TOKENS",
            "CLAUDECODE",
        ] {
            assert!(dropped_env(v), "{v}");
        }
        for v in [
            "HOME",
            "PATH",
            "CLAUDE_CONFIG_DIR",
            "HTTPS_PROXY",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
        ] {
            assert!(!dropped_env(v), "{v}");
        }
    }
}

//! A builder for tests that would rather not write script JSON: AWS credentials, replies
//! planned per Bedrock model id and operation, then start. Plus [`Reply`] and [`When`]
//! shorthands (text, tool call, thinking, HTTP error, mid-stream exception).

use serde_json::Value;

use crate::bedrock::config::{AwsConfig, AwsCredentials, BedrockOperation, SsoConfig, StsConfig};
use crate::provider::{FakeProvider, FakeProviderThread};
use crate::script::{ErrorSpec, Protocol, Reply, Script, Step, ToolCallSpec, UsageSpec, When};

/// Builds a [`Script`] step by step and starts a fake on it. Steps are tried in the order they
/// were added (the first match answers), the default reply last.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use fake_provider::{AwsCredentials, BedrockOperation, FakeProvider, Reply};
/// let fake = FakeProvider::builder()
///     .aws_credentials(AwsCredentials::new("AKIDTEST", "secret").with_session_token("tok"))
///     .bedrock("us.anthropic.claude-sonnet-4-5-20250929-v1:0", BedrockOperation::ConverseStream,
///              Reply::thinking("let me see", "Hello"))
///     .bedrock_any_model(BedrockOperation::InvokeModel,
///              Reply::tool_call("get_weather", serde_json::json!({"city": "Paris"})))
///     .start()
///     .await?;
/// let calls = fake.requests();
/// # let _ = calls; Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct FakeProviderBuilder {
    script: Script,
}

impl FakeProviderBuilder {
    /// An empty script: all protocols, no steps, no default, no AWS auth.
    pub fn new() -> FakeProviderBuilder {
        FakeProviderBuilder::default()
    }

    /// Starts from an existing script (its steps come before those added here).
    pub fn from_script(script: Script) -> FakeProviderBuilder {
        FakeProviderBuilder { script }
    }

    fn aws_mut(&mut self) -> &mut AwsConfig {
        self.script.aws.get_or_insert_with(AwsConfig::default)
    }

    /// Accepts SigV4 requests signed with `creds` (repeatable: several keys).
    pub fn aws_credentials(mut self, creds: AwsCredentials) -> Self {
        self.aws_mut().credentials.push(creds);
        self
    }

    /// Accepts `Authorization: Bearer <key>` (a Bedrock API key) on the Bedrock routes.
    pub fn bedrock_api_key(mut self, key: impl Into<String>) -> Self {
        self.aws_mut().bearer_tokens.push(key.into());
        self
    }

    /// Requires this region in the SigV4 credential scope.
    pub fn aws_region(mut self, region: impl Into<String>) -> Self {
        self.aws_mut().region = Some(region.into());
        self
    }

    /// Serves only these (decoded) model ids; others get 400 `ValidationException`.
    pub fn bedrock_models<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.aws_mut().models = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Turns on the fake AWS SSO portal.
    pub fn sso(mut self, sso: SsoConfig) -> Self {
        self.aws_mut().sso = Some(sso);
        self
    }

    /// Turns on the fake STS (AssumeRole).
    pub fn sts(mut self, sts: StsConfig) -> Self {
        self.aws_mut().sts = Some(sts);
        self
    }

    /// Restricts the API families that answer.
    pub fn protocols(mut self, protocols: Vec<Protocol>) -> Self {
        self.script.protocols = protocols;
        self
    }

    /// Answers `operation` on `model_id` (decoded: `us.anthropic.…-v1:0` or an ARN) with
    /// `reply`, every time.
    pub fn bedrock(self, model_id: &str, operation: BedrockOperation, reply: Reply) -> Self {
        self.step(Step {
            when: When::bedrock(Some(model_id), Some(operation)),
            times: None,
            reply,
        })
    }

    /// Answers `operation` on `model_id` with `reply` for the next `times` calls only (then
    /// later steps, e.g. a tool call first and the final answer after).
    pub fn bedrock_times(
        self,
        model_id: &str,
        operation: BedrockOperation,
        times: u32,
        reply: Reply,
    ) -> Self {
        self.step(Step {
            when: When::bedrock(Some(model_id), Some(operation)),
            times: Some(times),
            reply,
        })
    }

    /// Answers `operation` on any model with `reply`.
    pub fn bedrock_any_model(self, operation: BedrockOperation, reply: Reply) -> Self {
        self.step(Step {
            when: When::bedrock(None, Some(operation)),
            times: None,
            reply,
        })
    }

    /// Adds any step.
    pub fn step(mut self, step: Step) -> Self {
        self.script.steps.push(step);
        self
    }

    /// The reply when no step matches (else a 500 error).
    pub fn default_reply(mut self, reply: Reply) -> Self {
        self.script.default = Some(reply);
        self
    }

    /// The script built so far (checked as [`Script::from_json`] checks).
    pub fn build(self) -> Result<Script, String> {
        self.script.validate()?;
        Ok(self.script)
    }

    /// Starts the fake on `127.0.0.1:0` in the current tokio runtime.
    pub async fn start(self) -> std::io::Result<FakeProvider> {
        let script = self.build().map_err(std::io::Error::other)?;
        FakeProvider::start(script).await
    }

    /// Starts the fake on its own runtime thread (for non-async tests).
    pub fn start_thread(self) -> std::io::Result<FakeProviderThread> {
        let script = self.build().map_err(std::io::Error::other)?;
        FakeProviderThread::start(script)
    }
}

impl When {
    /// Matches requests for `model_id` (for Bedrock: decoded from the path) and / or the Bedrock
    /// `operation` (which implies its protocol).
    pub fn bedrock(model_id: Option<&str>, operation: Option<BedrockOperation>) -> When {
        let protocol = operation.map(|op| {
            if op.is_converse() {
                Protocol::BedrockConverse
            } else {
                Protocol::BedrockInvoke
            }
        });
        When {
            model: model_id.map(str::to_string),
            operation,
            protocol,
            ..When::default()
        }
    }
}

impl Reply {
    /// A reply with one tool call (`arguments`: a JSON value, or a string sent verbatim).
    pub fn tool_call(name: impl Into<String>, arguments: Value) -> Reply {
        Reply::default().with_tool_call(name, arguments)
    }

    /// A reply with reasoning (thinking, signed `fake-signature`) and then `text`.
    pub fn thinking(reasoning: impl Into<String>, text: impl Into<String>) -> Reply {
        Reply {
            reasoning: Some(reasoning.into()),
            text: Some(text.into()),
            ..Reply::default()
        }
    }

    /// An HTTP error answer before any body: `status` with the protocol's error body. For
    /// Bedrock `kind` is the error type (`ThrottlingException`; `None` = by status) and goes
    /// into `x-amzn-ErrorType`; `message` `None` = the protocol's usual wording.
    pub fn http_error(status: u16, kind: Option<&str>, message: Option<&str>) -> Reply {
        Reply {
            status: Some(status),
            error: Some(ErrorSpec {
                kind: kind.map(str::to_string),
                message: message.map(str::to_string),
                code: None,
            }),
            ..Reply::default()
        }
    }

    /// This reply with `text`.
    pub fn with_text(mut self, text: impl Into<String>) -> Reply {
        self.text = Some(text.into());
        self
    }

    /// This reply with reasoning before its text.
    pub fn with_reasoning(mut self, reasoning: impl Into<String>) -> Reply {
        self.reasoning = Some(reasoning.into());
        self
    }

    /// This reply with one more tool call.
    pub fn with_tool_call(mut self, name: impl Into<String>, arguments: Value) -> Reply {
        self.tool_calls.push(ToolCallSpec {
            id: None,
            name: name.into(),
            arguments: Some(arguments),
        });
        self
    }

    /// This reply with fixed token counts (`input` includes `cached`).
    pub fn with_usage(mut self, input: u64, output: u64, cached: u64) -> Reply {
        self.usage = Some(UsageSpec {
            input: Some(input),
            output: Some(output),
            cached: Some(cached),
            ..UsageSpec::default()
        });
        self
    }

    /// This reply's stream broken after `after_events` events (frames, for Bedrock) by the
    /// protocol's mid-stream error: for Bedrock an exception frame of `kind`
    /// (`throttlingException`, `modelStreamErrorException`, `validationException`,
    /// `internalServerException`, `serviceUnavailableException`; either capitalisation).
    pub fn with_stream_error(mut self, after_events: usize, kind: &str, message: &str) -> Reply {
        self.stream.fail_after = Some(after_events);
        self.error = Some(ErrorSpec {
            kind: Some(kind.to_string()),
            message: Some(message.to_string()),
            code: None,
        });
        self
    }
}

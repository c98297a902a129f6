//! A scripted fake upstream LLM provider for tests and benchmarks.
//!
//! It speaks OpenAI Chat Completions, Anthropic Messages, OpenAI Responses and the AWS Bedrock
//! runtime (InvokeModel and Converse; streaming and not) with the real wire framing, answers
//! from a [`Script`], and records every request it receives. For AWS it also verifies SigV4
//! signatures and plays the AWS SSO portal and STS.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use fake_provider::{FakeProvider, Script};
//! let script = Script::from_json(r#"{"default": {"text": "hi"}}"#).expect("script");
//! let fake = FakeProvider::start(script).await?;
//! println!("{}", fake.base_url());
//! # Ok(()) }
//! ```
//!
//! # AWS Bedrock
//!
//! Same server and port as the other APIs (point a Bedrock client's endpoint URL at
//! [`FakeProvider::base_url`]):
//!
//! | route | operation | answer |
//! |---|---|---|
//! | `POST /model/{modelId}/invoke` | InvokeModel | Anthropic `message` JSON, plus `x-amzn-bedrock-input-token-count` / `-output-token-count` / `-invocation-latency` headers |
//! | `POST /model/{modelId}/invoke-with-response-stream` | InvokeModelWithResponseStream | `application/vnd.amazon.eventstream`: one `chunk` frame per Anthropic event, payload `{"bytes": "<base64 of the event JSON>"}`; `message_stop` carries `amazon-bedrock-invocationMetrics` |
//! | `POST /model/{modelId}/converse` | Converse | `{"output": {"message"}, "stopReason", "usage", "metrics"}` |
//! | `POST /model/{modelId}/converse-stream` | ConverseStream | frames `messageStart`, `contentBlockStart` (tool use), `contentBlockDelta` (text, tool input, reasoning text / signature), `contentBlockStop`, `messageStop`, `metadata` |
//! | `GET /federation/credentials` | SSO GetRoleCredentials | `{"roleCredentials": {…, "expiration": <epoch ms>}}` (when the script has `aws.sso`) |
//! | `POST /` `Action=AssumeRole` | STS AssumeRole | STS XML (when the script has `aws.sts`) |
//!
//! `{modelId}` is one path segment, percent-encoded by the client
//! (`us.anthropic.claude-sonnet-4-5-20250929-v1%3A0`,
//! `arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aapplication-inference-profile%2Fabc123`);
//! the fake decodes it. A path of more segments (an unencoded ARN) gets 404
//! `UnknownOperationException` with body `{"message": null}`, as AWS answers.
//!
//! Scripts plan Bedrock answers like any other: the same [`Reply`] (text, reasoning with the
//! signature `fake-signature`, tool calls, usage, `status` errors, `stream.fail_after`, faults),
//! chosen by [`When`] with `protocol` `bedrock-invoke` / `bedrock-converse`, `operation`
//! ([`BedrockOperation`]) and `model` (the decoded model id). Event-stream payloads carry
//! Bedrock's `"p"` padding member. InvokeModel streams send no `ping`.
//!
//! ## Authentication (script `aws`, [`AwsConfig`])
//!
//! Without an `aws` block Bedrock requests are not authenticated. With credentials the fake
//! recomputes every request's SigV4 signature with `aws-sigv4` (service `bedrock`; region and
//! date from the credential scope; the exact body bytes; the headers of `SignedHeaders`; the
//! path as received, encoded again for the canonical URI: `%3A` is signed as `%253A`) and
//! answers AWS's front-end errors, all with body `{"message": …}` and
//! `x-amzn-ErrorType: <type>:http://internal.amazon.com/coral/com.amazon.coral.service/`:
//!
//! | case | status, type | message |
//! |---|---|---|
//! | signature mismatch (wrong secret, single-encoded path, changed body), scope service not `bedrock`, region not the pinned one, scope date ≠ `x-amz-date`, `host` unsigned | 403 `InvalidSignatureException` | The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details. (or a scope message) |
//! | unknown access key; session token missing, wrong or unexpected; unknown `Bearer` API key | 403 `UnrecognizedClientException` | The security token included in the request is invalid. |
//! | SSO / STS credentials past their expiry | 403 `ExpiredTokenException` | The security token included in the request is expired |
//! | no `Authorization` | 403 `MissingAuthenticationTokenException` | Missing Authentication Token |
//! | `Authorization` not SigV4, no `x-amz-date` | 400 `IncompleteSignatureException` | … |
//!
//! Modelled errors (scripted `status`, validation) use the namespace
//! `http://internal.amazon.com/coral/com.amazon.bedrock/`: a 429 reply is `{"message": "Too many
//! requests, please wait before trying again."}` with `x-amzn-ErrorType:
//! ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/`; 403
//! `AccessDeniedException`, 400 `ValidationException`, 503 `ServiceUnavailableException`,
//! 500 `InternalServerException` likewise (type and message overridable with `error.type` /
//! `error.message`). A stream's `fail_after` ends it with an exception frame
//! (`:message-type exception`, `:exception-type` from `error.type`, default
//! `modelStreamErrorException`; payload `{"message": …}`), which botocore raises as
//! `EventStreamError` with that code.
//!
//! Requests are validated as Bedrock does, 400 `ValidationException`: InvokeModel bodies need
//! `anthropic_version: "bedrock-2023-05-31"` ([`BEDROCK_ANTHROPIC_VERSION`]), `max_tokens`,
//! `messages`, no `model` / `stream`, and `anthropic_beta` as an array; Converse bodies need
//! alternating roles starting with `user`, non-null non-empty `content`, `toolConfig` whenever
//! the history has `toolUse` / `toolResult` ([`TOOL_CONFIG_REQUIRED`]), tool results answering
//! the previous turn's tool uses, and signed reasoning.
//!
//! ## The builder
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use fake_provider::{AwsCredentials, BedrockOperation, FakeProvider, Reply, SsoConfig};
//! use serde_json::json;
//! let cri = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
//! let fake = FakeProvider::builder()
//!     .aws_credentials(AwsCredentials::new("AKIDTEST", "secret").with_session_token("tok"))
//!     .sso(SsoConfig::new("sso-access-token"))
//!     // First call: a tool call; later calls: the answer using the tool result.
//!     .bedrock_times(cri, BedrockOperation::ConverseStream, 1,
//!                    Reply::tool_call("get_weather", json!({"city": "Paris"})))
//!     .bedrock(cri, BedrockOperation::ConverseStream,
//!              Reply::thinking("The tool said…", "Sunny: {{last_tool_result}}"))
//!     .bedrock_any_model(BedrockOperation::InvokeModelWithResponseStream,
//!                        Reply::text("partial").with_stream_error(2, "throttlingException", "slow down"))
//!     .bedrock_any_model(BedrockOperation::InvokeModel, Reply::http_error(429, None, None))
//!     .start()
//!     .await?;
//! // … run the gateway against fake.base_url() …
//! for r in fake.aws_requests() {
//!     let call = r.aws.expect("AWS call");
//!     println!("{} {:?} {} rejected={:?}", call.operation, call.model_id, r.path, call.rejected);
//! }
//! assert_eq!(fake.sso_calls(), 0);
//! # Ok(()) }
//! ```
//!
//! Each [`RecordedRequest`] has the method, the raw path (model id still percent-encoded), the
//! query, the headers (lowercase names), the body (parsed and raw) and, for AWS routes, an
//! [`AwsCall`]: operation, decoded `model_id`, the SigV4 header's parts ([`SigV4Info`]: access
//! key id, scope date, region, service, signed headers, signature) and `rejected` (the error
//! type the fake answered instead of the script, if any).
//!
//! ## An SSO profile against the fake
//!
//! Give the script an [`SsoConfig`] (its `credentials` are handed out in turn, each with
//! `expires_in_secs`; [`FakeProvider::sso_calls`] counts the hand-outs, so a short lifetime
//! shows refreshes). Then write `~/.aws/config` with a profile of `sso_start_url`,
//! `sso_region`, `sso_account_id`, `sso_role_name` (or an `sso_session`), the token cache
//! `~/.aws/sso/cache/<sha1 hex of the start URL, or of the session name>.json` with
//! `{"startUrl", "region", "accessToken": <the config's access_token>, "expiresAt":
//! "2099-01-01T00:00:00Z"}`, and point the SDK's SSO client at the fake with
//! `AWS_ENDPOINT_URL_SSO=<base_url>` (or `endpoint_url` in the profile). The credentials the
//! portal hands out are then accepted by the Bedrock routes until they expire. STS works the
//! same way with `AWS_ENDPOINT_URL_STS` and a `role_arn` / `source_profile` profile.
//! `tests/boto3.rs` does all of this with boto3.
//!
//! # Google Vertex AI
//!
//! With a script's `vertex` block ([`VertexConfig`]) the same port is also a Google OAuth token
//! endpoint (`POST …/token`, which verifies a service account's RS256 JWT assertion with the
//! account's public key) and Vertex's Claude (`…/publishers/anthropic/models/{m}:rawPredict`,
//! `:streamRawPredict`) and OpenAI-compatible (`…/endpoints/openapi/chat/completions`) routes,
//! which accept only the tokens it minted; see the `vertex` module and
//! [`FakeProvider::vertex_tokens_minted`]. `fixtures/vertex-test-sa.*.pem` is a TEST-ONLY key
//! pair for it.

mod bedrock;
mod builder;
mod errors;
mod inspect;
mod listener;
mod matching;
mod plan;
mod provider;
mod render_anthropic;
mod render_chat;
mod render_responses;
mod script;
mod server;
mod sse;
mod vertex;

pub use bedrock::AwsCall;
pub use bedrock::config::{AwsConfig, AwsCredentials, BedrockOperation, SsoConfig, StsConfig};
pub use bedrock::eventstream::STREAM_EXCEPTIONS as BEDROCK_STREAM_EXCEPTIONS;
pub use bedrock::invoke::ANTHROPIC_VERSION as BEDROCK_ANTHROPIC_VERSION;
pub use bedrock::sigv4::SigV4Info;
pub use bedrock::validate::TOOL_CONFIG_REQUIRED;
pub use builder::FakeProviderBuilder;
pub use provider::{FakeProvider, FakeProviderThread};
pub use script::{
    ErrorSpec, Fault, Protocol, Reply, Script, Step, StreamOpts, ToolCallSpec, UsageSpec, When,
};
pub use server::RecordedRequest;
pub use vertex::{CLOUD_PLATFORM_SCOPE, JWT_BEARER_GRANT, VERTEX_ANTHROPIC_VERSION, VertexConfig};

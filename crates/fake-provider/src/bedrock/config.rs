//! The AWS part of a script: the credentials the fake's SigV4 check accepts, Bedrock API keys,
//! the model ids it serves, and the fake AWS SSO portal and STS that hand out temporary
//! credentials (which the SigV4 check then accepts until they expire).

use serde::{Deserialize, Serialize};

/// A Bedrock runtime operation (the names of the AWS API reference, `API_runtime_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BedrockOperation {
    /// `POST /model/{modelId}/invoke`: a model-native body (Anthropic Messages for Claude),
    /// answered with one JSON document.
    InvokeModel,
    /// `POST /model/{modelId}/invoke-with-response-stream`: the same body, answered with
    /// `chunk` event-stream frames.
    InvokeModelWithResponseStream,
    /// `POST /model/{modelId}/converse`: the provider-neutral Converse body and answer.
    Converse,
    /// `POST /model/{modelId}/converse-stream`: Converse answered with event-stream frames.
    ConverseStream,
}

impl BedrockOperation {
    /// All four, in path order.
    pub const ALL: [BedrockOperation; 4] = [
        BedrockOperation::InvokeModel,
        BedrockOperation::InvokeModelWithResponseStream,
        BedrockOperation::Converse,
        BedrockOperation::ConverseStream,
    ];

    /// The last path segment (`invoke`, `invoke-with-response-stream`, `converse`,
    /// `converse-stream`).
    pub fn path_suffix(self) -> &'static str {
        match self {
            BedrockOperation::InvokeModel => "invoke",
            BedrockOperation::InvokeModelWithResponseStream => "invoke-with-response-stream",
            BedrockOperation::Converse => "converse",
            BedrockOperation::ConverseStream => "converse-stream",
        }
    }

    /// The operation whose path ends in `suffix`.
    pub fn from_path_suffix(suffix: &str) -> Option<BedrockOperation> {
        Self::ALL.into_iter().find(|op| op.path_suffix() == suffix)
    }

    /// The AWS operation name (`InvokeModel`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            BedrockOperation::InvokeModel => "InvokeModel",
            BedrockOperation::InvokeModelWithResponseStream => "InvokeModelWithResponseStream",
            BedrockOperation::Converse => "Converse",
            BedrockOperation::ConverseStream => "ConverseStream",
        }
    }

    /// Whether the answer is an event stream.
    pub fn is_stream(self) -> bool {
        matches!(
            self,
            BedrockOperation::InvokeModelWithResponseStream | BedrockOperation::ConverseStream
        )
    }

    /// Whether the body is the Converse schema (else the model-native InvokeModel body).
    pub fn is_converse(self) -> bool {
        matches!(
            self,
            BedrockOperation::Converse | BedrockOperation::ConverseStream
        )
    }
}

/// AWS behaviour of a script. Absent from a script means: Bedrock routes answer without any
/// authentication check, and the SSO portal and STS routes do not exist.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Long-term credentials the SigV4 check accepts (besides those the fake SSO portal and
    /// STS issued). When this, `sso`, `sts` and `bearer_tokens` are all empty, requests are not
    /// authenticated at all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<AwsCredentials>,
    /// Bedrock API keys accepted as `Authorization: Bearer <key>` instead of SigV4.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bearer_tokens: Vec<String>,
    /// If set, the credential scope's region must be this one (else 403
    /// `InvalidSignatureException`, "Credential should be scoped to a valid region").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Model ids (decoded: `us.anthropic.…:0`, or an ARN) the Bedrock routes serve; others get
    /// 400 `ValidationException` "The provided model identifier is invalid.". Empty = any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// The fake AWS SSO portal (`GET /federation/credentials`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<SsoConfig>,
    /// The fake STS (`POST /` with `Action=AssumeRole`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts: Option<StsConfig>,
}

impl AwsConfig {
    /// Whether any authentication is configured (else Bedrock requests are not checked).
    pub fn checks_auth(&self) -> bool {
        !self.credentials.is_empty()
            || !self.bearer_tokens.is_empty()
            || self.sso.is_some()
            || self.sts.is_some()
    }
}

/// One set of AWS credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsCredentials {
    /// Access key id (`AKIA…` for long-term keys, `ASIA…` for temporary ones).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token: when set, a request signed with this key must carry it in
    /// `x-amz-security-token` (else 403 `UnrecognizedClientException`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// Lifetime in seconds of credentials the fake SSO portal or STS issues, counted from the
    /// call that issued them; after it the SigV4 check answers 403 `ExpiredTokenException`.
    /// Ignored in [`AwsConfig::credentials`] (those never expire). Default 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_secs: Option<u64>,
}

impl AwsCredentials {
    /// Long-term credentials (no session token).
    pub fn new(access_key_id: impl Into<String>, secret: impl Into<String>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret.into(),
            session_token: None,
            expires_in_secs: None,
        }
    }

    /// The same credentials with a session token.
    pub fn with_session_token(mut self, token: impl Into<String>) -> AwsCredentials {
        self.session_token = Some(token.into());
        self
    }

    /// The same credentials with a lifetime (for SSO / STS issued credentials).
    pub fn expiring_in(mut self, secs: u64) -> AwsCredentials {
        self.expires_in_secs = Some(secs);
        self
    }

    /// Lifetime in seconds of issued credentials (default 3600).
    pub fn lifetime_secs(&self) -> u64 {
        self.expires_in_secs.unwrap_or(3600)
    }
}

/// The fake AWS SSO portal: `GET /federation/credentials?role_name=R&account_id=A` with header
/// `x-amz-sso_bearer_token: T` (the portal API's GetRoleCredentials).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoConfig {
    /// The access token accepted (what a test writes as `accessToken` into the token cache
    /// `~/.aws/sso/cache/<sha1>.json`); any other gets 401 `UnauthorizedException`.
    pub access_token: String,
    /// If set, `account_id` must equal it (else 403 `ForbiddenException`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// If set, `role_name` must equal it (else 403 `ForbiddenException`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    /// Credentials handed out in turn: call N gets entry N, the last one repeats. Empty means
    /// one built-in set (`ASIAFAKESSO0000000001`, one hour).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<AwsCredentials>,
}

impl SsoConfig {
    /// A portal accepting `access_token`, for any account and role, with the built-in
    /// credentials.
    pub fn new(access_token: impl Into<String>) -> SsoConfig {
        SsoConfig {
            access_token: access_token.into(),
            account_id: None,
            role_name: None,
            credentials: Vec::new(),
        }
    }
}

/// The fake STS: `POST /` with the form body `Action=AssumeRole&RoleArn=…&RoleSessionName=…`
/// (SigV4-signed for service `sts` with credentials the fake accepts), answered with the STS
/// XML document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StsConfig {
    /// If set, `RoleArn` must equal it (else 403 `AccessDenied`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Credentials handed out in turn, as [`SsoConfig::credentials`]; empty means one built-in
    /// set (`ASIAFAKESTS0000000001`, one hour).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<AwsCredentials>,
}

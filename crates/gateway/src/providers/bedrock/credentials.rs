//! AWS credentials and region for Bedrock deployments: static keys from `litellm_params`, or
//! `aws-config`'s default chain (environment, shared config and credentials files with a named
//! profile, SSO, `credential_process`, web identity, ECS/IMDS), optionally assuming a role.
//!
//! Credentials are cached until five minutes before they expire. A request that finds them
//! close to expiry uses them and starts one refresh in the background, so the request path does
//! not wait on AWS; only the first request (or one after they expired) waits for a resolution,
//! and concurrent ones share it. No lock is held across an `.await`.

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use protocol::ir::{ApiError, ErrorKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{Notify, OnceCell};

/// The kind of an error in the deployment's AWS identity: 403 `permission_error`, as AWS answers
/// unusable credentials. Not 401, which says the client's own key is wrong: Claude Code and Codex
/// would ask their user to log in again.
pub const DEPLOYMENT_IDENTITY: ErrorKind = ErrorKind::Permission;

/// Credentials closer than this to their expiry are refreshed.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);
/// Longest wait for another request's resolution.
const RESOLVE_WAIT: Duration = Duration::from_secs(60);

/// Where a deployment's AWS identity comes from (the LiteLLM `aws_*` parameters).
#[derive(Clone, Default)]
pub struct AwsSettings {
    /// `aws_region_name`; else the chain's region (`AWS_REGION`, the profile's `region`).
    pub region: Option<String>,
    /// `aws_profile_name`; else `AWS_PROFILE` or `default`, as the AWS CLI does.
    pub profile: Option<String>,
    /// `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`).
    pub static_keys: Option<Credentials>,
    /// `aws_role_name` (a role ARN) and `aws_session_name`.
    pub role: Option<(String, String)>,
}

impl std::fmt::Debug for AwsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSettings")
            .field("region", &self.region)
            .field("profile", &self.profile)
            .field("static_keys", &self.static_keys.is_some())
            .field("role", &self.role)
            .finish()
    }
}

/// The credentials and region a request is signed with.
#[derive(Clone)]
pub struct Signing {
    pub credentials: Credentials,
    pub region: String,
}

/// A deployment's AWS identity, resolved lazily and cached.
pub struct AwsAuth {
    settings: AwsSettings,
    model: String,
    /// The provider and region, built on first use.
    provider: OnceCell<(SharedCredentialsProvider, String)>,
    cached: Mutex<Option<Signing>>,
    refreshing: AtomicBool,
    resolved: Notify,
}

impl AwsAuth {
    /// `model` is the model name errors mention.
    pub fn new(settings: AwsSettings, model: &str) -> Arc<AwsAuth> {
        Arc::new(AwsAuth {
            settings,
            model: model.to_owned(),
            provider: OnceCell::new(),
            cached: Mutex::new(None),
            refreshing: AtomicBool::new(false),
            resolved: Notify::new(),
        })
    }

    /// The settings this identity was built from.
    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    /// The region when it is known without resolving the chain.
    pub fn known_region(&self) -> Option<&str> {
        self.settings.region.as_deref()
    }

    /// Forgets the cached credentials, which AWS called expired (a clock ahead of AWS's, a
    /// revoked session): the next request resolves them again.
    pub fn forget(&self) {
        if let Ok(mut c) = self.cached.lock() {
            *c = None;
        }
    }

    fn cached(&self) -> Option<Signing> {
        self.cached.lock().ok().and_then(|c| c.clone())
    }

    /// Credentials and region for a request. Errors name the profile and the fix (an expired
    /// SSO session: `aws sso login --profile <name>`).
    pub async fn current(self: &Arc<Self>) -> Result<Signing, ApiError> {
        let now = SystemTime::now();
        if let Some(s) = self.cached() {
            match s.credentials.expiry() {
                None => return Ok(s),
                Some(exp) if exp > now + REFRESH_BEFORE => return Ok(s),
                Some(exp) if exp > now + Duration::from_secs(10) => {
                    // Still good: use them, refresh in the background.
                    if !self.refreshing.swap(true, Ordering::AcqRel) {
                        let me = self.clone();
                        tokio::spawn(async move {
                            let _ = me.resolve().await;
                        });
                    }
                    return Ok(s);
                }
                Some(_) => {}
            }
        }
        // Registered before the flag is read, so a resolution that ends in between still wakes it.
        let notified = self.resolved.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.refreshing.swap(true, Ordering::AcqRel) {
            // Another request is resolving: wait for it, then use what it found. When it
            // failed, the cache still holds the old credentials: expired ones are not sent (AWS
            // would refuse them); this request tries itself, and reports why it cannot.
            let waited = tokio::time::timeout(RESOLVE_WAIT, notified).await;
            if waited.is_ok()
                && let Some(s) = self.cached()
                && s.credentials
                    .expiry()
                    .is_none_or(|exp| exp > SystemTime::now())
            {
                return Ok(s);
            }
            self.refreshing.store(true, Ordering::Release);
        }
        self.resolve().await
    }

    /// Resolves credentials (the `refreshing` flag is set by the caller) and caches them.
    async fn resolve(self: &Arc<Self>) -> Result<Signing, ApiError> {
        let result = self.fetch().await;
        if let Ok(s) = &result
            && let Ok(mut c) = self.cached.lock()
        {
            *c = Some(s.clone());
        }
        self.refreshing.store(false, Ordering::Release);
        self.resolved.notify_waiters();
        result
    }

    async fn fetch(&self) -> Result<Signing, ApiError> {
        if let Some(keys) = &self.settings.static_keys
            && self.settings.role.is_none()
        {
            let region = match &self.settings.region {
                Some(r) => r.clone(),
                None => self.chain().await?.1.clone(),
            };
            return Ok(Signing {
                credentials: keys.clone(),
                region,
            });
        }
        let (provider, region) = self.chain().await?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| self.no_credentials(&crate::upstream::deepest_cause(&e)))?;
        Ok(Signing {
            credentials,
            region: region.clone(),
        })
    }

    /// The credential provider and region, built once.
    async fn chain(&self) -> Result<&(SharedCredentialsProvider, String), ApiError> {
        self.provider
            .get_or_try_init(|| async {
                let mut loader = aws_config::defaults(BehaviorVersion::latest());
                if let Some(p) = &self.settings.profile {
                    loader = loader.profile_name(p);
                }
                if let Some(r) = &self.settings.region {
                    loader = loader.region(Region::new(r.clone()));
                }
                if let Some(keys) = &self.settings.static_keys {
                    loader = loader.credentials_provider(keys.clone());
                }
                let config = loader.load().await;
                let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
                    ApiError::new(
                        DEPLOYMENT_IDENTITY,
                        format!(
                            "no AWS region for model '{}': set litellm_params.aws_region_name, \
                             AWS_REGION, or `region` in the AWS profile{}",
                            self.model,
                            self.profile_hint()
                        ),
                    )
                })?;
                let provider = match &self.settings.role {
                    Some((role, session)) => SharedCredentialsProvider::new(
                        AssumeRoleProvider::builder(role.clone())
                            .session_name(session.clone())
                            .configure(&config)
                            .build()
                            .await,
                    ),
                    None => config.credentials_provider().ok_or_else(|| {
                        self.no_credentials("the AWS configuration gives no credential provider")
                    })?,
                };
                Ok((provider, region))
            })
            .await
    }

    fn profile_name(&self) -> String {
        self.settings
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
            .unwrap_or_else(|| "default".to_owned())
    }

    fn profile_hint(&self) -> String {
        format!(" (profile '{}')", self.profile_name())
    }

    fn no_credentials(&self, cause: &str) -> ApiError {
        let profile = self.profile_name();
        let lower = cause.to_ascii_lowercase();
        let fix = if lower.contains("sso") || lower.contains("token") && lower.contains("expired") {
            format!(
                "the AWS SSO session has expired or was never started: run `aws sso login --profile {profile}`"
            )
        } else {
            format!(
                "set litellm_params.aws_profile_name (or AWS_PROFILE) to a profile in ~/.aws/config, \
                 or aws_access_key_id and aws_secret_access_key; for an SSO profile run \
                 `aws sso login --profile {profile}`"
            )
        };
        ApiError::new(
            DEPLOYMENT_IDENTITY,
            format!(
                "no AWS credentials for model '{}' (profile '{profile}'): {cause}; {fix}",
                self.model
            ),
        )
    }
}

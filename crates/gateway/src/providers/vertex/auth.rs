//! Google credentials for Vertex AI and the OAuth access tokens minted from them, with
//! `yup-oauth2` (which signs a service account's JWT assertion and sends it to the key's own
//! `token_uri`).
//!
//! Where the credentials come from, in LiteLLM's order: `litellm_params.vertex_credentials` (or
//! `vertex_ai_credentials`; the key's JSON inline, a path to it, a YAML mapping, or
//! `os.environ/NAME` holding either), else VERTEXAI_CREDENTIALS, else Google's application
//! default credentials: the file named by GOOGLE_APPLICATION_CREDENTIALS, gcloud's
//! `application_default_credentials.json` (`gcloud auth application-default login`), and on
//! Google Cloud the metadata server. Service-account keys, gcloud's authorized-user files and
//! workload identity federation (`external_account`) files are understood.
//!
//! Tokens are cached per set of credentials (deployments that share a key share its token) and
//! never minted per request: one request mints the first token while the others wait for it
//! (single flight), and a token near its expiry is replaced by a background task while
//! requests go on with the current one.

use crate::model::SecretString;
use crate::providers::params::Params;
use crate::secrets::SecretSource;
use protocol::ir::{ApiError, ErrorKind};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use yup_oauth2::authenticator::{ApplicationDefaultCredentialsTypes, Authenticator};
use yup_oauth2::authorized_user::AuthorizedUserSecret;
use yup_oauth2::external_account::ExternalAccountSecret;
use yup_oauth2::{
    ApplicationDefaultCredentialsAuthenticator, ApplicationDefaultCredentialsFlowOpts,
    AuthorizedUserAuthenticator, DefaultHyperClientBuilder, ExternalAccountAuthenticator,
    HyperClientBuilder, ServiceAccountAuthenticator, ServiceAccountKey,
};

/// The OAuth scope Vertex AI needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// How long a token request may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);
/// A token is replaced this long before it expires (at most a quarter of its lifetime)…
const REFRESH_AHEAD: Duration = Duration::from_secs(300);
/// …and no longer sent this long before (at most a tenth of its lifetime).
const STOP_USING: Duration = Duration::from_secs(30);
/// After a failed token request, requests get its error for this long without another one…
const FAILURE_PAUSE: Duration = Duration::from_secs(2);
/// …and a background refresh waits this long (the current token still serves).
const BACKGROUND_PAUSE: Duration = Duration::from_secs(10);

type Connector = <DefaultHyperClientBuilder as HyperClientBuilder>::Connector;

/// What kind of Google credentials.
enum Kind {
    ServiceAccount(Box<ServiceAccountKey>),
    AuthorizedUser(AuthorizedUserSecret),
    ExternalAccount(Box<ExternalAccountSecret>),
    /// The metadata server of a Google Cloud VM (its token URL).
    Metadata(Option<String>),
}

/// Google credentials, found and parsed (not yet used). `Debug` shows where they came from and
/// their identity, never a key.
pub struct Credentials {
    kind: Kind,
    /// Where they came from, for messages: `litellm_params.vertex_credentials`,
    /// `GOOGLE_APPLICATION_CREDENTIALS (/path/key.json)`, ….
    pub origin: String,
    /// The service account's email, when they are one.
    pub client_email: Option<String>,
    /// The project the credentials name (`project_id`, or an authorized user's
    /// `quota_project_id`).
    pub project_id: Option<String>,
    /// sha256 of the credentials' text: deployments with the same share one token cache.
    fingerprint: [u8; 32],
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("origin", &self.origin)
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

/// What to do when no credentials are found.
const HOW_TO_GIVE: &str = "set litellm_params.vertex_credentials to a service-account JSON key \
     (the JSON itself, a path to the file, or os.environ/NAME), set GOOGLE_APPLICATION_CREDENTIALS \
     to the key file's path, or run `gcloud auth application-default login`";

impl Credentials {
    /// Finds the credentials of a definition (see the module documentation). Errors name the
    /// parameter or variable and the fix; they never quote the credentials.
    pub fn find(p: &Params<'_>) -> Result<Credentials, String> {
        for key in ["vertex_credentials", "vertex_ai_credentials"] {
            let shown = format!("litellm_params.{key}");
            match p.params.other.get(key) {
                None | Some(serde_json::Value::Null) => continue,
                Some(v @ serde_json::Value::Object(_)) => {
                    return Credentials::parse(&v.to_string(), shown);
                }
                Some(serde_json::Value::String(s)) => {
                    let value = match s.trim().strip_prefix("os.environ/") {
                        None => s.clone(),
                        Some(var) => match p.secrets.get(var.trim()) {
                            Some(v) => v.expose().to_owned(),
                            None => {
                                return Err(format!(
                                    "{shown} is os.environ/{var}, which is not set (environment \
                                     or .secrets); set {var} to the service-account JSON key or \
                                     the path of its file"
                                ));
                            }
                        },
                    };
                    return Credentials::from_value(&value, shown);
                }
                Some(_) => {
                    return Err(format!(
                        "{shown} must be the service-account JSON key (a string or a mapping) or \
                         the path of its file"
                    ));
                }
            }
        }
        if let Some(v) = p.secrets.get("VERTEXAI_CREDENTIALS") {
            return Credentials::from_value(v.expose(), "VERTEXAI_CREDENTIALS".into());
        }
        if let Some(path) = p.secrets.get("GOOGLE_APPLICATION_CREDENTIALS") {
            let path = path.expose().trim().to_owned();
            return Credentials::from_file(Path::new(&path), "GOOGLE_APPLICATION_CREDENTIALS");
        }
        if let Some(file) = gcloud_adc_file(p.secrets).filter(|f| f.is_file()) {
            return Credentials::from_file(&file, "gcloud's application default credentials");
        }
        if let Some(host) = p.secrets.get("GCE_METADATA_HOST") {
            let url = format!(
                "http://{}/computeMetadata/v1/instance/service-accounts/default/token",
                host.expose().trim()
            );
            return Ok(Credentials::metadata(Some(url)));
        }
        if on_google_cloud() {
            return Ok(Credentials::metadata(None));
        }
        Err(format!("no Google credentials were found; {HOW_TO_GIVE}"))
    }

    fn metadata(url: Option<String>) -> Credentials {
        Credentials {
            fingerprint: fingerprint(url.as_deref().unwrap_or("metadata")),
            kind: Kind::Metadata(url),
            origin: "the Google Cloud metadata server".into(),
            client_email: None,
            project_id: None,
        }
    }

    /// `value`: the JSON itself, or the path of a file holding it.
    fn from_value(value: &str, shown: String) -> Result<Credentials, String> {
        if value.trim_start().starts_with('{') {
            return Credentials::parse(value, shown);
        }
        Credentials::from_file(Path::new(value.trim()), &shown)
    }

    /// Blocks on the read: called only while building deployments, which happens off the
    /// worker runtimes (at start, in a reload's thread, in `/model/new` via `spawn_blocking`).
    #[allow(clippy::disallowed_methods)] // see above: never on a worker runtime
    fn from_file(path: &Path, shown: &str) -> Result<Credentials, String> {
        let origin = format!("{shown} ({})", path.display());
        match std::fs::read_to_string(path) {
            Ok(text) => Credentials::parse(&text, origin),
            Err(e) => Err(format!(
                "{shown}: cannot read the credentials file {} ({e}); give the path of a \
                 service-account JSON key (Google Cloud console: IAM → Service accounts → Keys) \
                 or the JSON itself",
                path.display()
            )),
        }
    }

    /// Parses credentials JSON; `origin` says where it came from.
    fn parse(text: &str, origin: String) -> Result<Credentials, String> {
        let bad = |why: String| format!("{origin} {why}; {HOW_TO_GIVE}");
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let field = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let fingerprint = fingerprint(text.trim());
        let (kind, client_email, project_id) = match field("type").as_deref() {
            Some("service_account") => {
                let key = yup_oauth2::parse_service_account_key(text).map_err(|e| {
                    bad(format!(
                        "is not a complete service-account key ({})",
                        field_error(&e)
                    ))
                })?;
                let email = Some(key.client_email.clone());
                let project = key.project_id.clone();
                (Kind::ServiceAccount(Box::new(key)), email, project)
            }
            Some("authorized_user") => {
                let user: AuthorizedUserSecret =
                    serde_json::from_value(json.clone()).map_err(|e| {
                        bad(format!(
                            "is not a complete authorized-user file ({})",
                            field_error(&e)
                        ))
                    })?;
                (Kind::AuthorizedUser(user), None, field("quota_project_id"))
            }
            Some("external_account") => {
                let ext: ExternalAccountSecret =
                    serde_json::from_value(json.clone()).map_err(|e| {
                        bad(format!(
                            "is not a complete external-account file ({})",
                            field_error(&e)
                        ))
                    })?;
                (Kind::ExternalAccount(Box::new(ext)), None, None)
            }
            Some(other) => {
                return Err(bad(format!(
                    "has type '{other}', which agent-shim cannot use (service_account, \
                     authorized_user and external_account can be)"
                )));
            }
            None => {
                return Err(bad(
                    "has no \"type\" (a service-account key has \"type\": \"service_account\")"
                        .into(),
                ));
            }
        };
        Ok(Credentials {
            kind,
            origin,
            client_email,
            project_id,
            fingerprint,
        })
    }
}

/// sha256 of `text`.
fn fingerprint(text: &str) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(&Sha256::digest(text.as_bytes()));
    out
}

/// The part of a parse error that names a field (serde's "missing field `x`"), without values.
fn field_error(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    match text.find("missing field") {
        Some(i) => text[i..]
            .split(" at line")
            .next()
            .unwrap_or_default()
            .to_owned(),
        None => "a field is missing or of the wrong type".into(),
    }
}

/// gcloud's application default credentials file: `$CLOUDSDK_CONFIG/…`, else
/// `~/.config/gcloud/…`.
fn gcloud_adc_file(secrets: &dyn SecretSource) -> Option<PathBuf> {
    let dir = match secrets.get("CLOUDSDK_CONFIG") {
        Some(d) => PathBuf::from(d.expose().trim()),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".config/gcloud"),
    };
    Some(dir.join("application_default_credentials.json"))
}

/// Whether this is a Google Cloud VM, as Google's client libraries tell on Linux: the DMI
/// product name (read once, without a network probe).
#[allow(clippy::disallowed_methods)] // called while building deployments, off the worker runtimes
fn on_google_cloud() -> bool {
    std::fs::read_to_string("/sys/class/dmi/id/product_name")
        .is_ok_and(|n| n.trim_start().starts_with("Google"))
}

/// A token and when to stop using and to replace it.
#[derive(Clone)]
struct Cached {
    token: SecretString,
    use_until: Instant,
    refresh_at: Instant,
}

/// The tokens of one set of credentials.
pub struct TokenSource {
    creds: Credentials,
    authenticator: tokio::sync::OnceCell<Authenticator<Connector>>,
    current: RwLock<Option<Cached>>,
    /// Held while a token is fetched: one fetch at a time.
    fetching: tokio::sync::Mutex<()>,
    /// A background refresh is under way.
    refreshing: AtomicBool,
    /// The last failed fetch: requests within [`FAILURE_PAUSE`] of it get its error without
    /// asking again (a broken key does not become a token request per request).
    failed: Mutex<Option<(Instant, TokenError)>>,
}

/// Token sources by credentials, so deployments with the same credentials share tokens.
static SOURCES: Mutex<Option<HashMap<[u8; 32], Weak<TokenSource>>>> = Mutex::new(None);

/// Why a token could not be had.
#[derive(Debug, Clone)]
pub struct TokenError {
    /// Google's OAuth error (`invalid_grant: …`): the credentials were refused.
    pub refused: bool,
    /// What happened, with no secret in it.
    pub cause: String,
}

impl TokenSource {
    /// The token source of `creds`: an existing one when other deployments use the same.
    pub fn shared(creds: Credentials) -> Arc<TokenSource> {
        let mut all = SOURCES.lock().unwrap_or_else(PoisonError::into_inner);
        let all = all.get_or_insert_with(HashMap::new);
        all.retain(|_, w| w.strong_count() > 0);
        if let Some(s) = all.get(&creds.fingerprint).and_then(Weak::upgrade) {
            return s;
        }
        let fingerprint = creds.fingerprint;
        let s = Arc::new(TokenSource {
            creds,
            authenticator: tokio::sync::OnceCell::new(),
            current: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
            failed: Mutex::new(None),
        });
        all.insert(fingerprint, Arc::downgrade(&s));
        s
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    fn cached(&self) -> Option<Cached> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A valid access token: the cached one (starting its replacement in the background when
    /// it nears its expiry), else one fetched now, once for all the requests waiting.
    pub async fn token(self: &Arc<Self>) -> Result<SecretString, TokenError> {
        if let Some(c) = self.cached()
            && Instant::now() < c.use_until
        {
            if Instant::now() >= c.refresh_at {
                self.refresh_in_background();
            }
            return Ok(c.token);
        }
        let _one = self.fetching.lock().await;
        if let Some(c) = self.cached()
            && Instant::now() < c.use_until
        {
            return Ok(c.token);
        }
        if let Some(e) = self.failed_within(FAILURE_PAUSE) {
            return Err(e);
        }
        self.fetch().await
    }

    /// The last failure's error, when it happened less than `pause` ago.
    fn failed_within(&self, pause: Duration) -> Option<TokenError> {
        let failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        failed
            .as_ref()
            .filter(|(at, _)| at.elapsed() < pause)
            .map(|(_, e)| e.clone())
    }

    /// Forgets the cached token (Vertex refused it): the next request fetches another.
    pub fn forget(&self) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn refresh_in_background(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let _one = me.fetching.lock().await;
            let fresh = me.cached().is_some_and(|c| Instant::now() < c.refresh_at);
            let paused = me.failed_within(BACKGROUND_PAUSE).is_some();
            if !fresh
                && !paused
                && let Err(e) = me.fetch().await
            {
                tracing::warn!(credentials = %me.creds.origin, "refreshing the Google access token failed: {}", e.cause);
            }
            me.refreshing.store(false, Ordering::Release);
        });
    }

    async fn authenticator(&self) -> Result<&Authenticator<Connector>, TokenError> {
        self.authenticator
            .get_or_try_init(|| async {
                let client = DefaultHyperClientBuilder::default().with_timeout(TOKEN_TIMEOUT);
                let built = match &self.creds.kind {
                    Kind::ServiceAccount(key) => {
                        ServiceAccountAuthenticator::with_client((**key).clone(), client)
                            .build()
                            .await
                    }
                    Kind::AuthorizedUser(user) => {
                        AuthorizedUserAuthenticator::with_client(user.clone(), client)
                            .build()
                            .await
                    }
                    Kind::ExternalAccount(ext) => {
                        ExternalAccountAuthenticator::with_client((**ext).clone(), client)
                            .build()
                            .await
                    }
                    Kind::Metadata(url) => {
                        let opts = ApplicationDefaultCredentialsFlowOpts {
                            metadata_url: url.clone(),
                        };
                        match ApplicationDefaultCredentialsAuthenticator::with_client(opts, client)
                            .await
                        {
                            ApplicationDefaultCredentialsTypes::InstanceMetadata(b) => {
                                b.build().await
                            }
                            ApplicationDefaultCredentialsTypes::ServiceAccount(b) => {
                                b.build().await
                            }
                        }
                    }
                };
                built.map_err(|e| TokenError {
                    refused: false,
                    // The key's private key did not parse, or TLS roots could not be loaded.
                    cause: format!("the credentials cannot be used ({e})"),
                })
            })
            .await
    }

    /// Asks for a new token and caches it; a failure is remembered.
    async fn fetch(&self) -> Result<SecretString, TokenError> {
        let result = self.ask().await;
        *self.failed.lock().unwrap_or_else(PoisonError::into_inner) =
            result.as_ref().err().map(|e| (Instant::now(), e.clone()));
        result
    }

    async fn ask(&self) -> Result<SecretString, TokenError> {
        let auth = self.authenticator().await?;
        let access = auth
            .force_refreshed_token(&[SCOPE])
            .await
            .map_err(token_error)?;
        let token = access
            .token()
            .and_then(SecretString::new)
            .ok_or_else(|| TokenError {
                refused: false,
                cause: "the token endpoint answered without an access token".into(),
            })?;
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let lifetime = access
            .expiration_time()
            .map_or(300, |t| t.unix_timestamp() - now_unix)
            .max(1);
        let lifetime = Duration::from_secs(lifetime as u64);
        let now = Instant::now();
        let cached = Cached {
            token: token.clone(),
            use_until: now + lifetime - STOP_USING.min(lifetime / 10),
            refresh_at: now + lifetime - REFRESH_AHEAD.min(lifetime / 4),
        };
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(cached);
        Ok(token)
    }

    /// The error a request gets when no token could be had, for `model`.
    pub fn error(&self, model: &str, e: &TokenError) -> ApiError {
        let who = match &self.creds.client_email {
            Some(email) => format!("the service account {email} from {}", self.creds.origin),
            None => self.creds.origin.clone(),
        };
        let fix = if e.refused {
            "; the key may have been deleted or the account disabled: create a new key \
             (`gcloud iam service-accounts keys create`) and give it in \
             litellm_params.vertex_credentials"
        } else {
            "; check litellm_params.vertex_credentials and that the token endpoint can be reached"
        };
        ApiError::new(
            // The deployment's identity, not the client's key (which 401 would blame).
            ErrorKind::Permission,
            format!(
                "no Google access token for model '{model}' (vertex_ai): {who}: {}{fix}",
                e.cause
            ),
        )
    }
}

/// A yup-oauth2 error as a [`TokenError`], worded without response bodies that could hold a
/// token.
fn token_error(e: yup_oauth2::Error) -> TokenError {
    use yup_oauth2::Error as E;
    match e {
        E::AuthError(a) => TokenError {
            refused: true,
            cause: format!("the token endpoint refused the credentials: {a}"),
        },
        E::JSONError(_) | E::MissingAccessToken => TokenError {
            refused: false,
            cause: "the token endpoint's answer is not a token".into(),
        },
        other => TokenError {
            refused: false,
            cause: format!("the token request failed: {other}"),
        },
    }
}

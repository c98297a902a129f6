//! How a request travels to an upstream and its answer comes back: a property of the provider
//! (its table row names a [`TransportKind`]), not of the wire protocol. HTTP with JSON and SSE
//! ([`http`]) serves most providers; the mock answers without a network ([`mock`]); Bedrock
//! signs with SigV4 and reads AWS event-stream frames (`crate::providers::bedrock`).
//!
//! A transport hands the dispatch loop an [`Answer`] whose body is what the deployment's
//! protocol codec reads: JSON for a whole answer, SSE bytes for a stream (a transport with
//! another framing re-frames as SSE). So the dispatch loop never branches on the transport.

pub mod h1;
pub mod http;
pub mod mock;

use crate::providers::deployment::{Deployment, Endpoint};
use crate::secrets::SecretSource;
use crate::upstream::{Upstream, UpstreamError};
use ::http::HeaderMap;
use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::BoxFuture;
use protocol::Protocol;
use protocol::ir::Request;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A failure while reading an answer's body after its headers arrived.
#[derive(Debug, Clone)]
pub struct BodyError {
    /// The read timed out (rather than the connection breaking).
    pub timeout: bool,
    /// The deepest cause, worded for the user, with credentials redacted.
    pub cause: String,
}

/// An answer's body, chunk by chunk: JSON for a whole answer, SSE for a stream.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, BodyError>> + Send>>;

/// A 2xx upstream answer whose headers have arrived and been checked.
pub struct Answer {
    /// Response headers; the dispatch loop passes on `retry-after` and rate-limit ones.
    pub headers: HeaderMap,
    pub body: BodyStream,
    /// The cost the upstream reports itself, filled in when the answer ends (the claude-code
    /// provider's `total_cost_usd`); `None` for upstreams that report none.
    pub cost: Option<Arc<ReportedCost>>,
}

impl Answer {
    /// An answer without a reported cost.
    pub fn new(headers: HeaderMap, body: BodyStream) -> Answer {
        Answer {
            headers,
            body,
            cost: None,
        }
    }
}

/// Response header with the cost an upstream reported for a whole (non-streamed) answer, in US
/// dollars (as LiteLLM's `x-litellm-response-cost`); a stream's is in the request log only.
pub const COST_HEADER: ::http::HeaderName =
    ::http::HeaderName::from_static("x-agent-shim-cost-usd");

/// A cost in US dollars an upstream reports for one answer, set once it is known (the bits of an
/// `f64`; unset until then).
#[derive(Debug)]
pub struct ReportedCost(AtomicU64);

impl Default for ReportedCost {
    fn default() -> Self {
        ReportedCost(AtomicU64::new(u64::MAX))
    }
}

impl ReportedCost {
    /// Records `usd` (a finite, non-negative amount; others are ignored).
    pub fn set(&self, usd: f64) {
        if usd.is_finite() && usd >= 0.0 {
            self.0.store(usd.to_bits(), Ordering::Relaxed);
        }
    }

    /// The recorded cost, if one was.
    pub fn get(&self) -> Option<f64> {
        let bits = self.0.load(Ordering::Relaxed);
        (bits != u64::MAX).then(|| f64::from_bits(bits))
    }
}

/// One request on its way to an upstream.
pub struct Outgoing<'a> {
    pub endpoint: Endpoint,
    /// The encoded body, in the deployment's protocol.
    pub body: Vec<u8>,
    pub stream: bool,
    /// What the client sent, for headers a protocol forwards (`anthropic-beta`, …).
    pub client_headers: &'a HeaderMap,
}

/// A deployment's way of reaching its upstream, built once at registration.
pub trait Transport: Send + Sync {
    /// Sends `out` and returns the answer once its headers arrived with a 2xx status. Errors
    /// carry the upstream's own message, named ([`UpstreamError`]).
    fn send<'a>(
        &'a self,
        up: &'a Upstream,
        d: &'a Deployment,
        out: Outgoing<'a>,
    ) -> BoxFuture<'a, Result<Answer, UpstreamError>>;
    /// What the upstream cannot take, rewritten before a translated request is encoded (Bedrock
    /// Converse takes no image URLs: they are fetched). `None`, the common case: nothing to
    /// rewrite, decided without waiting or allocating.
    fn prepare<'a>(
        &'a self,
        _up: &'a Upstream,
        _req: &'a Request,
    ) -> Option<BoxFuture<'a, Result<Request, UpstreamError>>> {
        None
    }
    /// The upstream URL errors and logs name for `endpoint`, credentials redacted.
    fn shown_url(&self, endpoint: Endpoint, stream: bool) -> String;
    /// Secret values this transport sends beyond the deployment's key (a URL's password), for
    /// [`crate::redact::known`] to remove from what an upstream answers.
    fn secret_values(&self) -> Vec<&str> {
        Vec::new()
    }
    /// The base URL a client could reach directly with the deployment's own protocol and key
    /// (`agent-shim with --direct`), when there is one.
    fn direct_base(&self) -> Option<&str> {
        None
    }
}

/// The parts of a provider's behaviour its table row names: which wire API a model id uses and
/// how requests travel. One static value per kind of provider.
pub trait TransportKind: Sync + std::fmt::Debug {
    /// The wire API and the upstream's model id for `model` (the part after the provider
    /// prefix). Most providers speak their row's protocol with the id as is; Bedrock picks
    /// InvokeModel or Converse from the id.
    fn route(&self, row_protocol: Protocol, model: &str) -> (Protocol, String) {
        (row_protocol, model.to_owned())
    }
    /// Whether `litellm_params.api_mode` may choose the wire API (HTTP endpoints that speak
    /// several).
    fn api_mode_applies(&self) -> bool {
        true
    }
    /// Whether a definition must give (or the row default) an `api_base`.
    fn needs_api_base(&self) -> bool {
        true
    }
    /// An `api_base` to show in the error that asks for one.
    fn api_base_example(&self) -> &'static str {
        "http://localhost:8000/v1"
    }
    /// The field a Chat request carries its output-token limit in: the row's, unless the
    /// definition says otherwise (an Azure `api_version` older than `max_completion_tokens`).
    fn max_tokens_field(
        &self,
        row: protocol::target::MaxTokensField,
        _params: &crate::providers::params::Params<'_>,
    ) -> protocol::target::MaxTokensField {
        row
    }
    /// Builds the transport for `d` (whose own transport is not set yet). Errors say what to
    /// change in the definition, e.g. "litellm_params.api_base … is not a URL".
    /// `secrets` resolves `os.environ/NAME` values in the definition.
    fn build(
        &self,
        d: &Deployment,
        secrets: &dyn SecretSource,
    ) -> Result<Box<dyn Transport>, String>;
}

/// The transport a deployment holds while its own is being built.
pub(crate) struct Unbuilt;

impl Transport for Unbuilt {
    fn send<'a>(
        &'a self,
        _: &'a Upstream,
        d: &'a Deployment,
        _: Outgoing<'a>,
    ) -> BoxFuture<'a, Result<Answer, UpstreamError>> {
        let e = protocol::ApiError::new(
            protocol::ErrorKind::Api,
            format!("model '{}' has no upstream transport", d.model_name()),
        );
        Box::pin(async move { Err(UpstreamError::fatal(e)) })
    }
    fn shown_url(&self, _: Endpoint, _: bool) -> String {
        String::new()
    }
}

//! What the client sent, read once per request and shared by every attempt: the fields routing
//! needs (`model`, `stream`), the session it names, the decoded request (made on first need),
//! and the size estimates the limits and the context-window check use.

use super::Failure;
use crate::error::ClientError;
use crate::router::affinity;
use crate::router::scenario::{Chosen, ScenarioRules};
use bytes::Bytes;
use http::HeaderMap;
use protocol::Protocol;
use protocol::ir::{ApiError, Request};
use protocol::passthrough::Fields;
use protocol::shape::ShapeError;
use std::sync::Arc;

/// What the client sent (module docs).
pub(crate) struct Incoming<'a> {
    pub client: Protocol,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
    pub fields: Fields<'a>,
    pub model: String,
    pub stream: bool,
    /// The decoded request, made on first need and reused across attempts.
    decoded: Option<Arc<Request>>,
    /// Input tokens counted with the tokenizer, once counted.
    counted: Option<u64>,
}

impl<'a> Incoming<'a> {
    /// Reads the fields every route checks. Errors: a body that is not a JSON object, no
    /// `model`, a `stream` that is not a boolean.
    pub fn read(
        client: Protocol,
        headers: &'a HeaderMap,
        body: &'a Bytes,
    ) -> Result<Incoming<'a>, ClientError> {
        let err = |e: ApiError| ClientError::new(client, e);
        let fields = Fields::parse(body).map_err(err)?;
        // The fields read here are checked whatever the route; the rest of the body is checked
        // by the request decoder when translating, and by the upstream on pass-through.
        let shape = |e: ShapeError| err(e.into_api_error("invalid request body"));
        let model = fields
            .field::<String>("model")
            .map_err(shape)?
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                err(ApiError::invalid_request(
                    "the request has no `model` field",
                ))
            })?;
        let stream = fields
            .field::<bool>("stream")
            .map_err(shape)?
            .unwrap_or(false);
        Ok(Incoming {
            client,
            headers,
            body,
            fields,
            model,
            stream,
            decoded: None,
            counted: None,
        })
    }

    /// The decoded request (decoded on first call). Errors: the body is not a valid request of
    /// the client's protocol, which no deployment would change.
    pub fn decoded(&mut self) -> Result<Arc<Request>, Failure> {
        if let Some(r) = &self.decoded {
            return Ok(r.clone());
        }
        let r = self
            .client
            .codec()
            .decode_request(self.body)
            .map_err(|e| Failure::Client(ClientError::new(self.client, e)))?;
        Ok(self.decoded.insert(Arc::new(r)).clone())
    }

    /// A rough count of input tokens (a quarter of the body's bytes), free to compute: what the
    /// `tpm` limits and usage-based routing count before the upstream reports usage.
    pub fn rough_tokens(&self) -> u64 {
        self.body.len() as u64 / 4
    }

    /// Whether the request fits a context window of `window` input tokens. A body of no more
    /// bytes than `window` fits without counting (a token is at least a byte); a larger one is
    /// counted once with the tokenizer, on a blocking thread.
    pub async fn fits(&mut self, window: u64) -> Result<bool, Failure> {
        if self.body.len() as u64 <= window {
            return Ok(true);
        }
        Ok(self.input_tokens().await? <= window)
    }

    /// The request's input tokens, counted with the tokenizer ([`crate::tokens`]); the rough
    /// count if the tokenizer cannot load.
    pub async fn input_tokens(&mut self) -> Result<u64, Failure> {
        if let Some(n) = self.counted {
            return Ok(n);
        }
        let req = self.decoded()?;
        let n = match tokio::task::spawn_blocking(move || crate::tokens::count_request(&req)).await
        {
            Ok(Ok(n)) => n,
            _ => self.rough_tokens(),
        };
        self.counted = Some(n);
        Ok(n)
    }

    /// The scenario rule of `rules` that chooses this request's model, if one matches. Input
    /// tokens are counted only when a `long_context` rule could match
    /// ([`ScenarioRules::needs_tokens`]); the count is kept for the context-window check.
    pub async fn scenario(
        &mut self,
        rules: &ScenarioRules,
        haiku_tier: Option<&str>,
    ) -> Result<Option<Chosen>, Failure> {
        let tokens = if rules.needs_tokens(self.body.len()) {
            Some(self.input_tokens().await?)
        } else {
            None
        };
        let req = self.decoded()?;
        Ok(rules.choose(&self.model, haiku_tier, &req, tokens))
    }

    /// The session the request names ([`affinity::SESSION_HEADERS`]).
    pub fn session(&self) -> Option<&'a str> {
        affinity::session_of(self.headers)
    }
}

//! Reading a client's request body under the gateway's size limit ([`ClientBody`]).
//!
//! A body whose `content-length` is over the limit is refused before any of it is read (the
//! client gets its 413 while it is still sending, and the connection is closed); a chunked body is
//! counted while it is read and refused as soon as it passes the limit. Either way the answer is
//! a 413 in the caller's own protocol (Anthropic's `request_too_large` on `/v1/messages*`,
//! OpenAI's error object elsewhere), never axum's plain-text rejection.

use crate::error::ClientError;
use crate::server::protocol_of;
use crate::state::GatewayState;
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind};
use std::sync::Arc;

/// The default limit on a request body: 32 MiB, Anthropic's own limit for Messages requests
/// (its API answers `413 request_too_large` above it).
pub const DEFAULT_MAX_REQUEST_BODY: usize = 32 * 1024 * 1024;

/// A request body read whole, no longer than [`GatewayState::max_request_body`] bytes.
///
/// Rejections (in the protocol of the request's path): 413 `request_too_large` when the body
/// is, or announces itself as, longer than the limit; 400 when the client stops sending midway.
pub struct ClientBody(pub Bytes);

impl FromRequest<Arc<GatewayState>> for ClientBody {
    type Rejection = ClientError;

    async fn from_request(req: Request, gw: &Arc<GatewayState>) -> Result<Self, Self::Rejection> {
        let limit = gw.max_request_body;
        let client = protocol_of(req.uri().path());
        if let Some(len) = content_length(req.headers())
            && len > limit as u64
        {
            return Err(too_large(client, limit, Some(len)));
        }
        match Limited::new(req.into_body(), limit).collect().await {
            Ok(collected) => Ok(ClientBody(collected.to_bytes())),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                Err(too_large(client, limit, None))
            }
            Err(e) => Err(ClientError::new(
                client,
                ApiError::invalid_request(format!("could not read the request body: {e}")),
            )),
        }
    }
}

/// The `content-length` a client announced, if it is a number.
fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The 413 for a body over `limit` bytes (`announced`: its `content-length`).
fn too_large(client: Protocol, limit: usize, announced: Option<u64>) -> ClientError {
    let size = match announced {
        Some(n) => format!("of {} ", mib(n)),
        None => String::new(),
    };
    ClientError::new(
        client,
        ApiError::new(
            ErrorKind::RequestTooLarge,
            format!(
                "the request body {size}is over the gateway's limit of {}; send less (e.g. fewer or \
                 smaller images and files), or raise `max_request_body_mb` in config.yaml",
                mib(limit as u64)
            ),
        ),
    )
}

/// `n` bytes in MiB, for messages ("32 MiB", "0.5 MiB").
fn mib(n: u64) -> String {
    let m = n as f64 / (1024.0 * 1024.0);
    if m.fract() == 0.0 {
        format!("{m} MiB")
    } else {
        format!("{m:.1} MiB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_mib() {
        assert_eq!(mib(32 * 1024 * 1024), "32 MiB");
        assert_eq!(mib(50_000_000), "47.7 MiB");
        let mut h = HeaderMap::new();
        assert_eq!(content_length(&h), None);
        h.insert(header::CONTENT_LENGTH, "100000000000".parse().unwrap());
        assert_eq!(content_length(&h), Some(100_000_000_000));
    }
}

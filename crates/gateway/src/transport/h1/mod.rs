//! The gateway's own HTTP/1.1 client to plain-`http://` upstreams (local model servers such as
//! Ollama, vLLM, llama.cpp, LM Studio, a LiteLLM proxy), on `hyper::client::conn::http1` with a
//! keep-alive pool per worker thread ([`pool`]). It replaces reqwest on the hot path: no tower
//! layers (redirects, retries, decompression), no URL parsed per request, smaller futures.
//!
//! What stays on reqwest ([`crate::upstream::Upstream::client`]): `https://` upstreams (reqwest
//! negotiates HTTP/2 through ALPN with the platform verifier's roots, which this client does not
//! do), upstreams reached through a proxy from the environment ([`crate::upstream_proxy`]), URLs
//! with credentials in them (reqwest turns them into basic authentication), and the Bedrock and
//! Vertex transports.

pub(crate) mod body;
pub(crate) mod pool;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, Uri, header};
use http_body_util::Full;
use hyper::body::Incoming;
use pool::{Lease, Pools, Sender};
use std::sync::Arc;
use std::time::Duration;

/// The `user-agent` of upstream requests (the same as reqwest's client sends).
pub const USER_AGENT: &str = concat!("agent-shim/", env!("CARGO_PKG_VERSION"));

/// The most one connection's read buffer grows to, in bytes (hyper's default is ~400 KiB). A
/// connection keeps its buffer while it waits in the pool: after 64 streams at once, 64 idle
/// connections held ~120 KiB each for [`pool::IDLE_TIMEOUT`] (issue 13's memory that comes
/// back). 16 KiB holds an answer's head (Node.js servers refuse larger heads themselves) and
/// ~70 stream events per read; a longer answer is read in more calls.
pub const READ_BUFFER: usize = 16 * 1024;

/// Where one endpoint URL is sent, worked out once when the deployment's transport is built.
#[derive(Debug)]
pub struct Target {
    /// `host:port`: the pool's key.
    key: Arc<str>,
    /// The host to connect to (an IPv6 address without its brackets).
    host: String,
    port: u16,
    /// The `Host` header: the URL's host, and its port when one is written.
    host_header: HeaderValue,
    /// The request target in origin form (path and query).
    path: Uri,
    /// The whole URL, parsed once, for the proxy decision ([`Target::url`]).
    url: Uri,
}

impl Target {
    /// The target of `url` when this client serves it: a plain `http://` URL without
    /// credentials. `None` otherwise (reqwest sends those).
    pub fn for_url(url: &reqwest::Url) -> Option<Target> {
        if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let port = url.port_or_known_default()?;
        let shown_host = url.host_str()?;
        let authority = match url.port() {
            Some(p) => format!("{shown_host}:{p}"),
            None => shown_host.to_owned(),
        };
        // An IPv6 address is written in brackets in URLs, and connected to without them.
        let host = shown_host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(shown_host)
            .to_owned();
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        Some(Target {
            key: Arc::from(format!("{host}:{port}")),
            host,
            port,
            host_header: HeaderValue::from_str(&authority).ok()?,
            path: Uri::try_from(if path.is_empty() { "/" } else { &path }).ok()?,
            url: Uri::try_from(url.as_str()).ok()?,
        })
    }

    /// The endpoint's whole URL (what a proxy matcher looks at).
    pub fn url(&self) -> &Uri {
        &self.url
    }
}

/// A failed request on this client, classed for [`crate::upstream::transport_error`].
#[derive(Debug, thiserror::Error)]
pub enum H1Error {
    /// No connection could be made (refused, no route, the name does not resolve).
    #[error("{0}")]
    Connect(std::io::Error),
    /// No connection within the connect timeout.
    #[error("no connection within {} s", .0.as_secs_f64())]
    ConnectTimeout(Duration),
    /// The connection failed after it was made (closed or reset before the answer, an answer
    /// that is not HTTP).
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

impl crate::upstream::TransportFailure for H1Error {
    fn failure(&self) -> crate::upstream::Failure {
        use crate::upstream::Failure;
        match self {
            H1Error::Connect(_) | H1Error::ConnectTimeout(_) => Failure::Connect,
            H1Error::Http(e) if e.is_timeout() => Failure::Timeout,
            H1Error::Http(e) if e.is_parse() || e.is_parse_too_large() => Failure::Unreadable,
            H1Error::Http(_) => Failure::Broken,
        }
    }
}

/// A request about to be sent: its headers (without `Host`, `content-length` and
/// `user-agent`, which [`send`] sets) and body.
pub struct Outbound {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends a POST of `out` to `t` on an idle pooled connection of this worker, or a new one, and
/// returns the answer once its headers arrived. A pooled connection the upstream closed while it
/// was idle does not fail the request: when hyper gives the request back unsent, it goes on
/// another connection.
pub(crate) async fn send(
    pools: &Arc<Pools>,
    t: &Target,
    connect_timeout: Duration,
    out: Outbound,
) -> Result<(http::response::Parts, body::H1Body), H1Error> {
    let len = out.body.len() as u64;
    let mut req = Request::new(Full::new(out.body));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = t.path.clone();
    let headers = req.headers_mut();
    *headers = out.headers;
    // A deployment's `extra_headers` may set their own `Host` or `user-agent` (as with reqwest).
    headers
        .entry(header::HOST)
        .or_insert_with(|| t.host_header.clone());
    headers
        .entry(header::USER_AGENT)
        .or_insert(HeaderValue::from_static(USER_AGENT));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let slot = pools.here();
    while let Some(mut sender) = pools.checkout(slot, &t.key) {
        // Ready once its last answer is drained; an error when it closed (while idle, or because
        // that answer was dropped before hyper had read it whole).
        if sender.ready().await.is_err() {
            continue;
        }
        match sender.try_send_request(req).await {
            Ok(resp) => return Ok(answer(pools, slot, t, sender, resp)),
            Err(mut e) => match e.take_message() {
                // Not sent (the connection closed as it was offered): the next one.
                Some(back) => req = back,
                None => return Err(H1Error::Http(e.into_error())),
            },
        }
    }
    let mut sender = connect(t, connect_timeout).await?;
    let resp = sender.send_request(req).await?;
    Ok(answer(pools, slot, t, sender, resp))
}

/// The answer's head, and its body holding the connection until it has been read.
fn answer(
    pools: &Arc<Pools>,
    slot: usize,
    t: &Target,
    sender: Sender,
    resp: Response<Incoming>,
) -> (http::response::Parts, body::H1Body) {
    let (mut parts, incoming) = resp.into_parts();
    let gzip = body::take_gzip(&mut parts.headers);
    let lease = Lease {
        pools: pools.clone(),
        slot,
        key: t.key.clone(),
        sender,
    };
    (parts, body::H1Body::new(incoming, lease, gzip))
}

/// A new connection to `t`, its task spawned on this worker's runtime.
async fn connect(t: &Target, timeout: Duration) -> Result<Sender, H1Error> {
    let tcp = tokio::time::timeout(timeout, tokio::net::TcpStream::connect((&*t.host, t.port)))
        .await
        .map_err(|_| H1Error::ConnectTimeout(timeout))?
        .map_err(H1Error::Connect)?;
    // Small requests and SSE chunks go out at once.
    tcp.set_nodelay(true).map_err(H1Error::Connect)?;
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(READ_BUFFER)
        .handshake(hyper_util::rt::TokioIo::new(tcp))
        .await?;
    tokio::spawn(async move {
        // Its errors reach the request (or body) that was on it; an idle connection's end is
        // noticed by the pool.
        let _ = conn.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Option<Target> {
        Target::for_url(&reqwest::Url::parse(url).unwrap())
    }

    #[test]
    fn targets_of_plain_http_urls_only() {
        let t = target("http://localhost:11434/v1/chat/completions?x=1").unwrap();
        assert_eq!(&*t.key, "localhost:11434");
        assert_eq!(t.host_header, "localhost:11434");
        assert_eq!(t.path, "/v1/chat/completions?x=1");
        let t = target("http://[::1]/v1/messages").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 80));
        assert_eq!(t.host_header, "[::1]");
        assert!(target("https://api.openai.com/v1/chat/completions").is_none());
        assert!(target("http://user:pw@localhost:8000/v1").is_none());
    }
}

//! An answer's body from the HTTP/1.1 upstream client ([`super`]) as the dispatch loop reads it
//! ([`crate::transport::BodyStream`]): decoded as it arrives when the upstream gzipped it
//! although the gateway asked for no encoding, and its connection given back to the pool once the
//! body has been read to the end or dropped (never while it is being read, never after a
//! failure); whether a connection dropped before its answer's end is usable is hyper's to say
//! when it is next lent.

use super::pool::Lease;
use crate::transport::BodyError;
use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, header};
use http_body::Body;
use hyper::body::Incoming;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// Whether an answer with `headers` is gzip-encoded, which the body decodes (as reqwest's `gzip`
/// feature did: `content-encoding: gzip`, any other encoding is left to
/// [`crate::answer::check`] to refuse). The headers that describe the encoded body
/// (`content-encoding`, `content-length`) are removed then, as they no longer apply.
pub(crate) fn take_gzip(headers: &mut HeaderMap) -> bool {
    let gzip = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|v| v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"gzip"));
    if gzip {
        headers.remove(header::CONTENT_ENCODING);
        headers.remove(header::CONTENT_LENGTH);
    }
    gzip
}

/// An upstream answer's body, chunk by chunk.
pub(crate) struct H1Body {
    body: Incoming,
    /// The connection, until the body has been read to the end.
    lease: Option<Lease>,
    gzip: Option<flate2::write::GzDecoder<Vec<u8>>>,
    /// Whether any gzip bytes came (an empty body is not a gzip stream).
    gzip_started: bool,
    done: bool,
}

impl H1Body {
    /// `body` read from the connection of `lease`; decoded when `gzip`.
    pub(crate) fn new(body: Incoming, lease: Lease, gzip: bool) -> H1Body {
        H1Body {
            body,
            lease: Some(lease),
            gzip: gzip.then(|| flate2::write::GzDecoder::new(Vec::new())),
            gzip_started: false,
            done: false,
        }
    }

    /// The connection goes back to its pool: the answer has been read whole, or dropped.
    fn release(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.release();
        }
    }

    /// `data` decoded, when the body is gzip-encoded.
    fn decode(&mut self, data: Bytes) -> Result<Bytes, BodyError> {
        let Some(d) = self.gzip.as_mut() else {
            return Ok(data);
        };
        self.gzip_started = true;
        d.write_all(&data).map_err(gzip_error)?;
        Ok(Bytes::from(std::mem::take(d.get_mut())))
    }

    /// What the gzip decoder still holds at the end of the body; an error when the gzip stream
    /// was cut short.
    fn finish(&mut self) -> Result<Bytes, BodyError> {
        match self.gzip.take() {
            Some(mut d) if self.gzip_started => {
                d.try_finish().map_err(gzip_error)?;
                Ok(Bytes::from(std::mem::take(d.get_mut())))
            }
            _ => Ok(Bytes::new()),
        }
    }
}

fn gzip_error(e: std::io::Error) -> BodyError {
    BodyError {
        timeout: false,
        cause: format!("its gzip-encoded answer cannot be decoded: {e}"),
    }
}

impl Stream for H1Body {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        while !this.done {
            match ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        // Trailers: nothing the gateway reads.
                        continue;
                    };
                    let out = this.decode(data);
                    if this.body.is_end_stream() && this.gzip.is_none() {
                        this.done = true;
                        this.release();
                    }
                    match out {
                        Ok(b) if b.is_empty() => continue,
                        Ok(b) => return Poll::Ready(Some(Ok(b))),
                        Err(e) => return Poll::Ready(Some(Err(this.fail(e)))),
                    }
                }
                Some(Err(e)) => {
                    let e = BodyError {
                        timeout: e.is_timeout(),
                        cause: crate::upstream::deepest_cause(&e),
                    };
                    return Poll::Ready(Some(Err(this.fail(e))));
                }
                None => {
                    this.done = true;
                    match this.finish() {
                        Ok(rest) => {
                            this.release();
                            if !rest.is_empty() {
                                return Poll::Ready(Some(Ok(rest)));
                            }
                        }
                        Err(e) => return Poll::Ready(Some(Err(this.fail(e)))),
                    }
                }
            }
        }
        Poll::Ready(None)
    }
}

impl Drop for H1Body {
    /// A body dropped before its end (a stream relayed up to its last event, whose terminating
    /// chunk is not read; a client gone mid-stream; a wrong answer quoted in part): hyper drains
    /// what is left of it when that is already buffered, and closes the connection otherwise. So
    /// the connection goes back to the pool at once, and the request that takes it next waits
    /// for hyper to say it is ready, or closed, before using it ([`super::send`]).
    fn drop(&mut self) {
        self.release();
    }
}

impl H1Body {
    /// Ends the body after a failure; its connection is closed, not pooled.
    fn fail(&mut self, e: BodyError) -> BodyError {
        self.done = true;
        self.lease = None;
        e
    }
}

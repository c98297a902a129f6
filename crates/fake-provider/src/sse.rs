//! SSE framing helpers and the incremental response body: applies
//! `fail_after` / `cut_after` / `chunk_bytes`, sleeps `delay_ms` between
//! events, flushes every event as its own write, compresses with gzip when
//! asked, and ends the body properly, by a connection abort, or never.

use std::time::Duration;

use std::io::Write;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::stream;

use crate::script::StreamOpts;

/// JSON-encodes a string (with quotes).
pub(crate) fn json_str(s: &str) -> String {
    // Serialising a &str cannot fail.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// `data: {json}\n\n`
pub(crate) fn data_event(json: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(json.len() + 8);
    b.extend_from_slice(b"data: ");
    b.extend_from_slice(json.as_bytes());
    b.extend_from_slice(b"\n\n");
    b.freeze()
}

/// `event: {kind}\ndata: {json}\n\n`
pub(crate) fn named_event(kind: &str, json: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(kind.len() + json.len() + 16);
    b.extend_from_slice(b"event: ");
    b.extend_from_slice(kind.as_bytes());
    b.extend_from_slice(b"\ndata: ");
    b.extend_from_slice(json.as_bytes());
    b.extend_from_slice(b"\n\n");
    b.freeze()
}

/// Reuses the last rendered event when consecutive deltas are identical
/// (e.g. `repeat_text`), so benchmark streams cost one render.
#[derive(Default)]
pub(crate) struct DeltaCache {
    last: Option<(String, Bytes)>,
}

impl DeltaCache {
    /// The event for `delta`, rendered with `render` unless cached.
    pub fn get(&mut self, delta: &str, render: impl FnOnce(&str) -> Bytes) -> Bytes {
        if let Some((d, b)) = &self.last
            && d == delta
        {
            return b.clone();
        }
        let b = render(delta);
        self.last = Some((delta.to_string(), b.clone()));
        b
    }
}

/// The events actually sent, after fault injection.
#[derive(Debug)]
pub(crate) struct Planned {
    pub events: Vec<Bytes>,
    /// How the body ends after the last event.
    pub end: End,
}

/// How a body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Properly (chunked terminator).
    Close,
    /// Abort the connection (no terminator).
    Cut,
    /// Send nothing more until the client goes away.
    Stall,
}

impl Planned {
    /// All of `events`, ending properly.
    pub fn whole(events: Vec<Bytes>) -> Planned {
        Planned {
            events,
            end: End::Close,
        }
    }
}

/// Applies `fail_after` (truncate + protocol failure event) and `cut_after`
/// (truncate + abort); the smaller limit wins, a tie goes to `fail_after`.
/// Limits at or beyond the event count have no effect.
pub(crate) fn apply_faults(
    mut events: Vec<Bytes>,
    opts: &StreamOpts,
    failure: impl FnOnce(usize) -> Bytes,
) -> Planned {
    let fail = opts.fail_after.filter(|n| *n < events.len());
    let cut = opts.cut_after.filter(|n| *n < events.len());
    match (fail, cut) {
        (Some(f), c) if c.is_none_or(|c| f <= c) => {
            events.truncate(f);
            events.push(failure(f));
            Planned::whole(events)
        }
        (_, Some(c)) => {
            events.truncate(c);
            Planned {
                events,
                end: End::Cut,
            }
        }
        _ => Planned::whole(events),
    }
}

/// Re-splits the concatenated events into pieces of at most `n` bytes.
fn rechunk(events: Vec<Bytes>, n: usize) -> Vec<Bytes> {
    let total: usize = events.iter().map(Bytes::len).sum();
    let mut all = BytesMut::with_capacity(total);
    for e in &events {
        all.extend_from_slice(e);
    }
    let all = all.freeze();
    (0..total)
        .step_by(n.max(1))
        .map(|i| all.slice(i..(i + n).min(total)))
        .collect()
}

struct BodyState {
    events: std::vec::IntoIter<Bytes>,
    first: bool,
    end: Option<End>,
    delay: Duration,
    coalesce: bool,
    gzip: Option<GzEncoder<Vec<u8>>>,
}

impl BodyState {
    /// `ev` as sent: compressed and flushed when gzip is on.
    fn encode(&mut self, ev: Bytes) -> std::io::Result<Bytes> {
        let Some(gz) = &mut self.gzip else {
            return Ok(ev);
        };
        gz.write_all(&ev)?;
        gz.flush()?;
        Ok(Bytes::from(std::mem::take(gz.get_mut())))
    }
}

/// A streaming body that yields each event as its own chunk, sleeping
/// `delay_ms` (or yielding to force a flush) between events, and ending as
/// `planned.end` says: properly, with an I/O error (connection abort, no
/// chunked terminator), or never. With `gzip` every chunk is compressed and
/// flushed on its own, so the body still streams.
pub(crate) fn body(planned: Planned, opts: &StreamOpts, gzip: bool) -> Body {
    let events = match opts.chunk_bytes {
        Some(n) => rechunk(planned.events, n),
        None => planned.events,
    };
    let state = BodyState {
        events: events.into_iter(),
        first: true,
        end: Some(planned.end),
        delay: Duration::from_millis(opts.delay_ms),
        coalesce: opts.coalesce,
        gzip: gzip.then(|| GzEncoder::new(Vec::new(), Compression::fast())),
    };
    let s = stream::unfold(state, |mut st| async move {
        let Some(ev) = st.events.next() else {
            match st.end.take()? {
                End::Close => {
                    let gz = st.gzip.take()?;
                    let tail = gz.finish().map(Bytes::from);
                    return Some((tail, st));
                }
                End::Cut => {
                    // Return Pending once so the HTTP layer flushes what it has
                    // queued before the error aborts the connection.
                    tokio::task::yield_now().await;
                    let err = std::io::Error::other("fake-provider: cut");
                    return Some((Err(err), st));
                }
                End::Stall => {
                    std::future::pending::<()>().await;
                    return None;
                }
            }
        };
        if !st.first {
            if !st.delay.is_zero() {
                tokio::time::sleep(st.delay).await;
            } else if !st.coalesce {
                tokio::task::yield_now().await;
            }
        }
        st.first = false;
        let chunk = st.encode(ev);
        Some((chunk, st))
    });
    Body::from_stream(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evs(n: usize) -> Vec<Bytes> {
        (0..n).map(|i| Bytes::from(format!("e{i}"))).collect()
    }

    #[test]
    fn faults() {
        let opts = |f: Option<usize>, c: Option<usize>| StreamOpts {
            fail_after: f,
            cut_after: c,
            ..StreamOpts::default()
        };
        let p = apply_faults(evs(5), &opts(Some(2), None), |n| {
            Bytes::from(format!("fail{n}"))
        });
        assert_eq!(p.events, vec!["e0", "e1", "fail2"]);
        assert_eq!(p.end, End::Close);
        let p = apply_faults(evs(5), &opts(Some(4), Some(3)), |_| Bytes::new());
        assert_eq!(p.events, vec!["e0", "e1", "e2"]);
        assert_eq!(p.end, End::Cut);
        let p = apply_faults(evs(5), &opts(Some(9), Some(5)), |_| Bytes::new());
        assert_eq!(p.events.len(), 5);
        assert_eq!(p.end, End::Close);
    }

    #[test]
    fn rechunk_splits_bytes() {
        let r = rechunk(vec![Bytes::from("abcd"), Bytes::from("efg")], 3);
        assert_eq!(r, vec!["abc", "def", "g"]);
    }

    #[test]
    fn framing_and_cache() {
        assert_eq!(data_event("{}"), "data: {}\n\n");
        assert_eq!(
            named_event("ping", "{\"type\":\"ping\"}"),
            "event: ping\ndata: {\"type\":\"ping\"}\n\n"
        );
        assert_eq!(json_str("a\"b\n"), r#""a\"b\n""#);
        let mut c = DeltaCache::default();
        let mut renders = 0;
        for d in ["x", "x", "y"] {
            c.get(d, |d| {
                renders += 1;
                Bytes::from(d.to_string())
            });
        }
        assert_eq!(renders, 2);
    }
}

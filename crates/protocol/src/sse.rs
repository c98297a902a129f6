//! Server-sent events: an incremental parser over arbitrary byte chunks, and the encoder.
//!
//! Follows the WHATWG "event stream interpretation" rules: lines end in `\r\n`, `\n` or `\r`;
//! `data:` lines of one event are joined with `\n`; a line starting with `:` is a comment; one
//! space after the colon is removed; an empty line dispatches the event. Chunks may split anywhere,
//! including inside a line ending or a UTF-8 sequence.
//!
//! One event (its unfinished line plus the data gathered so far) is bounded by
//! [`MAX_EVENT_BYTES`]: an upstream that never ends a line or an event makes the parser fail
//! with [`EventTooLong`] instead of growing without limit.

use bytes::{BufMut, BytesMut};

/// The most bytes one event may take while it is being read (its `data:` lines and the line
/// not yet ended): 16 MiB, far above any real event (the largest are tool-call arguments and
/// whole responses in `response.completed`, a few MiB at most).
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// An event (or a line) grew past the parser's limit without ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTooLong {
    /// The limit, in bytes.
    pub limit: usize,
}

impl std::fmt::Display for EventTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the upstream sent a server-sent event longer than {} MiB without ending it",
            self.limit / (1024 * 1024)
        )
    }
}

impl std::error::Error for EventTooLong {}

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental SSE parser. Feed it chunks as they arrive; it returns the events they complete.
#[derive(Debug)]
pub struct SseParser {
    buf: Vec<u8>,
    /// A `\r` ended the previous chunk: a `\n` at the start of the next one belongs to it.
    pending_cr: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    /// Most bytes of one event ([`MAX_EVENT_BYTES`] unless set with [`SseParser::with_limit`]).
    limit: usize,
    /// Set once the limit was passed: the stream is unusable from there on.
    failed: bool,
}

impl Default for SseParser {
    fn default() -> SseParser {
        SseParser::with_limit(MAX_EVENT_BYTES)
    }
}

impl SseParser {
    /// A parser bounded by [`MAX_EVENT_BYTES`].
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// A parser whose events may take at most `limit` bytes.
    pub fn with_limit(limit: usize) -> SseParser {
        SseParser {
            buf: Vec::new(),
            pending_cr: false,
            event: None,
            data: String::new(),
            has_data: false,
            limit,
            failed: false,
        }
    }

    /// Parses `chunk`, appending completed events to `out`.
    ///
    /// Errors: the event being read passed the limit without ending. What it had gathered is
    /// freed, events completed before it are in `out`, and every later call fails too.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLong> {
        if self.failed {
            return Err(self.too_long());
        }
        if chunk.is_empty() {
            return Ok(());
        }
        let mut rest = chunk;
        if self.pending_cr {
            self.pending_cr = false;
            if let Some(b'\n') = rest.first() {
                rest = &rest[1..];
            }
        }
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', rest) {
            let (line_tail, after) = rest.split_at(pos);
            let is_cr = after[0] == b'\r';
            rest = &after[1..];
            if is_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    None => self.pending_cr = true,
                    _ => {}
                }
            }
            if self.buf.is_empty() {
                self.check(line_tail.len())?;
                self.line(line_tail, out);
            } else {
                self.check(line_tail.len())?;
                self.buf.extend_from_slice(line_tail);
                let line = std::mem::take(&mut self.buf);
                self.line(&line, out);
            }
        }
        self.check(rest.len())?;
        self.buf.extend_from_slice(rest);
        Ok(())
    }

    /// Fails (freeing the event) when `more` bytes would take the current event past the limit.
    fn check(&mut self, more: usize) -> Result<(), EventTooLong> {
        let size = self.buf.len() + self.data.len() + more;
        if size <= self.limit {
            return Ok(());
        }
        self.failed = true;
        self.buf = Vec::new();
        self.data = String::new();
        self.event = None;
        self.has_data = false;
        Err(self.too_long())
    }

    fn too_long(&self) -> EventTooLong {
        EventTooLong { limit: self.limit }
    }

    /// Ends the stream: a final event without its blank line is dispatched, as servers that close
    /// right after the last `data:` line expect.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if self.failed {
            return;
        }
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.line(&line, out);
        }
        self.dispatch(out);
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        // Valid UTF-8 (always, in practice) is checked in one pass; only invalid bytes take the
        // lossy path, which replaces them as the WHATWG rules say.
        let value = match std::str::from_utf8(value) {
            Ok(v) => std::borrow::Cow::Borrowed(v),
            Err(_) => String::from_utf8_lossy(value),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.into_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data),
            });
        }
        self.event = None;
        self.data.clear();
        self.has_data = false;
    }
}

/// Appends one event (`event: <name>` when given, then `data: <data>`, then a blank line) to `out`.
/// `data` must not contain line breaks (serialised JSON never does).
pub fn write_event(out: &mut BytesMut, event: Option<&str>, data: &[u8]) {
    out.reserve(data.len() + 32);
    if let Some(name) = event {
        out.put_slice(b"event: ");
        out.put_slice(name.as_bytes());
        out.put_slice(b"\n");
    }
    out.put_slice(b"data: ");
    out.put_slice(data);
    out.put_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out).unwrap();
        }
        p.finish(&mut out);
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    #[test]
    fn parses_named_events_comments_and_multiline_data() {
        let input = b": ping\nevent: message_start\ndata: {\"a\":1}\n\ndata: one\ndata: two\n\ndata: [DONE]\n\n";
        assert_eq!(
            parse_all(&[input]),
            vec![
                ev(Some("message_start"), "{\"a\":1}"),
                ev(None, "one\ntwo"),
                ev(None, "[DONE]")
            ]
        );
    }

    #[test]
    fn crlf_split_between_chunks_is_one_line_ending() {
        let out = parse_all(&[b"data: x\r", b"\n\r", b"\ndata: y\r\n\r\n"]);
        assert_eq!(out, vec![ev(None, "x"), ev(None, "y")]);
    }

    #[test]
    fn bare_cr_line_endings() {
        assert_eq!(
            parse_all(&[b"data: a\r\rdata:b\r\r"]),
            vec![ev(None, "a"), ev(None, "b")]
        );
    }

    #[test]
    fn unterminated_final_event_is_dispatched_at_finish() {
        assert_eq!(
            parse_all(&[b"data: {\"x\":1}"]),
            vec![ev(None, "{\"x\":1}")]
        );
    }

    #[test]
    fn event_without_data_is_not_dispatched() {
        assert_eq!(parse_all(&[b"event: ping\n\n"]), vec![]);
    }

    #[test]
    fn utf8_split_inside_a_character() {
        let s = "data: héllo ✓\n\n".as_bytes();
        let (a, b) = s.split_at(9);
        assert_eq!(parse_all(&[a, b]), vec![ev(None, "héllo ✓")]);
    }

    /// Regression: a 128 MB line without a newline grew the gateway by 137 MB.
    #[test]
    fn line_that_never_ends_is_bounded() {
        let mut p = SseParser::with_limit(1000);
        let mut out = Vec::new();
        p.feed(b"data: ok\n\ndata: ", &mut out).unwrap();
        assert_eq!(out, vec![ev(None, "ok")]);
        let piece = [b'x'; 300];
        for _ in 0..3 {
            p.feed(&piece, &mut out).unwrap();
        }
        let e = p.feed(&piece, &mut out).unwrap_err();
        assert_eq!(e.limit, 1000);
        assert!(p.buf.capacity() == 0 && p.data.capacity() == 0, "freed");
        assert!(p.feed(b"\n\n", &mut out).is_err(), "stays failed");
        p.finish(&mut out);
        assert_eq!(out.len(), 1);
    }

    /// An event of many short `data:` lines and no blank line is bounded too.
    #[test]
    fn event_that_never_ends_is_bounded() {
        let mut p = SseParser::with_limit(1000);
        let mut out = Vec::new();
        let r = (0..200).try_for_each(|_| p.feed(b"data: 0123456789\n", &mut out));
        assert_eq!(r, Err(EventTooLong { limit: 1000 }));
        assert!(out.is_empty());
        let mut p = SseParser::with_limit(1000);
        let whole = format!("data: {}\n\n", "y".repeat(990));
        p.feed(whole.as_bytes(), &mut out).unwrap();
        assert_eq!(out[0].data.len(), 990, "an event within the limit passes");
    }

    #[test]
    fn write_event_round_trips() {
        let mut buf = BytesMut::new();
        write_event(&mut buf, Some("content_block_delta"), b"{\"t\":\"x\"}");
        write_event(&mut buf, None, b"[DONE]");
        assert_eq!(
            parse_all(&[&buf]),
            vec![
                ev(Some("content_block_delta"), "{\"t\":\"x\"}"),
                ev(None, "[DONE]")
            ]
        );
    }

    proptest! {
        /// Any split of a stream into chunks yields the same events as the whole stream.
        #[test]
        fn chunking_does_not_change_events(
            cuts in proptest::collection::vec(0usize..200, 0..12),
            crlf in any::<bool>(),
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let text = format!(
                "event: a{nl}data: {{\"k\":\"v ✓\"}}{nl}{nl}: c{nl}data: 1{nl}data: 2{nl}{nl}event: b{nl}data:x{nl}{nl}data: [DONE]{nl}{nl}"
            );
            let bytes = text.as_bytes();
            let whole = parse_all(&[bytes]);
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for p in points {
                chunks.push(&bytes[last..p]);
                last = p;
            }
            chunks.push(&bytes[last..]);
            prop_assert_eq!(parse_all(&chunks), whole);
        }
    }
}

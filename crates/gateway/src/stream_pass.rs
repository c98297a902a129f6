//! The pass-through stage of the streaming loop ([`crate::stream_loop`]): the upstream's bytes go
//! to the client untouched, but only whole events at a time, each checked first by the
//! protocol's [`StreamWatch`]. The bytes of an event still arriving are held back, so when the
//! stream fails the client's error event lands on an event boundary, never inside a cut event.
//! The events that carry usage are read as they pass ([`UsageScan`]; the others are only
//! searched for `"usage"`), and the last event for an error the upstream ended with.

use crate::record::Record;
use crate::record::failure;
use crate::record::usage::UsageScan;
use crate::stream_loop::Stage;
use bytes::{Bytes, BytesMut};
use protocol::ir::{ApiError, ErrorKind};
use protocol::sse::{SseEvent, SseParser};
use protocol::stream_watch::StreamWatch;

/// Finds where SSE events end (the blank line after their fields) across chunks, with the line
/// endings of the WHATWG rules the parser follows: `\r\n`, `\n` or `\r`.
#[derive(Debug)]
struct Framer {
    /// The line being scanned has no bytes yet.
    line_empty: bool,
    /// The previous chunk ended in `\r`: a `\n` starting the next one belongs to it.
    pending_cr: bool,
}

impl Framer {
    fn new() -> Framer {
        Framer {
            line_empty: true,
            pending_cr: false,
        }
    }

    /// The length of `bytes` up to and including the blank line that ends the first event in
    /// it, if one ends there. Scanned bytes are remembered; call again on the rest.
    fn event_end(&mut self, bytes: &[u8]) -> Option<usize> {
        if bytes.is_empty() {
            return None;
        }
        let mut i = 0;
        if self.pending_cr {
            self.pending_cr = false;
            if bytes.first() == Some(&b'\n') {
                i = 1;
            }
        }
        let mut line_start = i;
        let mut empty = self.line_empty;
        while let Some(off) = memchr::memchr2(b'\n', b'\r', &bytes[i..]) {
            let pos = i + off;
            let blank = empty && pos == line_start;
            let mut end = pos + 1;
            if bytes[pos] == b'\r' {
                match bytes.get(end) {
                    Some(b'\n') => end += 1,
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
            }
            if blank {
                self.line_empty = true;
                return Some(end);
            }
            i = end;
            line_start = end;
            empty = true;
        }
        self.line_empty = empty && line_start == bytes.len();
        None
    }
}

/// The error that ends a stream whose upstream never finished an event.
pub(crate) fn abandoned(e: protocol::sse::EventTooLong) -> ApiError {
    ApiError::new(ErrorKind::Api, format!("{e}; the stream was abandoned"))
}

/// The pass-through [`Stage`].
pub(crate) struct PassThrough {
    framer: Framer,
    parser: SseParser,
    sse: Vec<SseEvent>,
    watch: Box<dyn StreamWatch>,
    usage: UsageScan,
    /// Bytes of the event still arriving.
    partial: BytesMut,
    done: bool,
}

impl PassThrough {
    /// The stage for a stream in `protocol`, checked by `watch`.
    pub(crate) fn new(watch: Box<dyn StreamWatch>, protocol: protocol::Protocol) -> PassThrough {
        PassThrough {
            framer: Framer::new(),
            parser: SseParser::new(),
            sse: Vec::new(),
            watch,
            usage: UsageScan::new(protocol),
            partial: BytesMut::new(),
            done: false,
        }
    }

    /// Checks the events the parser completed, reading the usage of those that carry it;
    /// `false` (after failing) if one is refused.
    fn check(&mut self, out: &mut BytesMut, rec: &mut Record) -> bool {
        let mut refused = None;
        for ev in self.sse.drain(..) {
            if refused.is_none() {
                let data = ev.data.as_bytes();
                if let Err(e) = self.watch.on_event(&ev) {
                    refused = Some(e);
                    continue;
                }
                if self.usage.on_event(data)
                    && let Some(t) = self.usage.tokens()
                {
                    rec.tokens(t);
                }
                // An error event is the stream's last: only that one is looked at.
                if self.watch.is_finished()
                    && let Some(e) = failure::passed_error(ev.event.as_deref(), data)
                {
                    // The upstream's own error event, passed on as it is.
                    rec.error(&e);
                }
            }
        }
        match refused {
            Some(e) => {
                self.fail(e, out, rec);
                false
            }
            None => true,
        }
    }
}

impl Stage for PassThrough {
    fn feed(&mut self, mut chunk: Bytes, out: &mut BytesMut, rec: &mut Record) {
        while !chunk.is_empty() && !self.done {
            let Some(end) = self.framer.event_end(&chunk) else {
                self.partial.extend_from_slice(&chunk);
                if let Err(e) = self.parser.feed(&chunk, &mut self.sse) {
                    self.fail(abandoned(e), out, rec);
                }
                return;
            };
            let event = chunk.split_to(end);
            if let Err(e) = self.parser.feed(&event, &mut self.sse) {
                return self.fail(abandoned(e), out, rec);
            }
            if !self.check(out, rec) {
                return;
            }
            if !self.partial.is_empty() {
                // Copied and cleared, not split off: a split makes the buffer shared (an
                // allocation per event).
                out.extend_from_slice(&self.partial);
                self.partial.clear();
            }
            out.extend_from_slice(&event);
            if self.watch.is_finished() {
                // Anything after the protocol's last event is not part of the answer.
                self.done = true;
            }
        }
    }

    fn end(&mut self, out: &mut BytesMut, rec: &mut Record) {
        if self.done {
            return;
        }
        // A last event without its blank line still counts, as the translating parser reads it.
        self.parser.finish(&mut self.sse);
        if !self.check(out, rec) {
            return;
        }
        if !self.partial.is_empty() {
            out.extend_from_slice(&self.partial);
            self.partial.clear();
            out.extend_from_slice(b"\n\n");
        }
        match self.watch.on_end() {
            None => self.done = true,
            Some(e) => self.fail(e, out, rec),
        }
    }

    fn fail(&mut self, e: ApiError, out: &mut BytesMut, rec: &mut Record) {
        if self.done {
            return;
        }
        self.partial.clear();
        self.watch.write_error(&e, out);
        rec.error(&e);
        self.done = true;
    }

    /// The upstream's own pings pass through; nothing is added to its bytes.
    fn ping(&mut self, _out: &mut BytesMut) {}

    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::stream_watch::AnthropicWatch;

    /// Where events end when `text` arrives in `chunks`-byte pieces.
    fn ends(text: &[u8], chunk: usize) -> Vec<usize> {
        let mut f = Framer::new();
        let mut out = Vec::new();
        let mut base = 0;
        for piece in text.chunks(chunk) {
            let mut at = 0;
            while let Some(n) = f.event_end(&piece[at..]) {
                at += n;
                out.push(base + at);
            }
            base += piece.len();
        }
        out
    }

    #[test]
    fn event_ends_under_every_line_ending_and_split() {
        for (text, want) in [
            (&b"data: a\n\ndata: b\n\n"[..], vec![9, 18]),
            (b"data: a\r\n\r\ndata: b\r\n\r\n", vec![11, 22]),
            (b"data: a\r\rdata: b\r\r", vec![9, 18]),
            (b": c\n\nevent: x\ndata: y\n\n", vec![5, 23]),
        ] {
            for chunk in 1..=text.len() {
                let got = ends(text, chunk);
                // A blank line ending in `\r` at a chunk's end is reported there; its `\n`
                // comes with the next event, which the client's parser reads the same way.
                let got: Vec<usize> = got
                    .into_iter()
                    .map(|e| e + usize::from(text[e - 1] == b'\r' && text.get(e) == Some(&b'\n')))
                    .collect();
                assert_eq!(
                    got,
                    want,
                    "{:?} in {chunk}-byte chunks",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }

    fn log() -> Record {
        Record::detached(protocol::Protocol::Anthropic)
    }

    #[test]
    fn a_cut_event_is_held_back_and_the_error_follows_the_last_whole_event() {
        let mut p = PassThrough::new(
            Box::new(AnthropicWatch::new()),
            protocol::Protocol::Anthropic,
        );
        let mut out = BytesMut::new();
        let mut log = log();
        p.feed(
            Bytes::from_static(b"event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: content_block_delta\ndata: {\"type\":\"content"),
            &mut out,
            &mut log,
        );
        assert_eq!(
            &out[..],
            b"event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
        );
        out.clear();
        p.fail(ApiError::new(ErrorKind::Api, "cut"), &mut out, &mut log);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("event: error\ndata: {"), "{text}");
        assert!(!text.contains("content_block_delta"), "{text}");
        assert!(p.is_done());
    }

    #[test]
    fn a_utf8_character_split_across_reads_passes_whole() {
        let text = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"héllo ✓\"}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let mut p = PassThrough::new(
            Box::new(AnthropicWatch::new()),
            protocol::Protocol::Anthropic,
        );
        let mut out = BytesMut::new();
        let mut log = log();
        for b in text.as_bytes() {
            p.feed(Bytes::copy_from_slice(&[*b]), &mut out, &mut log);
        }
        p.end(&mut out, &mut log);
        assert_eq!(std::str::from_utf8(&out).unwrap(), text);
        assert_eq!(log.error_message(), None);
    }

    #[test]
    fn usage_is_read_from_the_passing_events_split_anywhere() {
        let text = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":5,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":7,\"output_tokens\":1}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":42}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        for chunk in [1, 7, text.len()] {
            let mut p = PassThrough::new(
                Box::new(AnthropicWatch::new()),
                protocol::Protocol::Anthropic,
            );
            let mut out = BytesMut::new();
            let mut log = log();
            for piece in text.as_bytes().chunks(chunk) {
                p.feed(Bytes::copy_from_slice(piece), &mut out, &mut log);
            }
            p.end(&mut out, &mut log);
            assert_eq!(std::str::from_utf8(&out).unwrap(), text);
            let t = log.tokens_seen().unwrap();
            assert_eq!(
                (t.input, t.output, t.cache_read, t.cache_write_5m),
                (112, 42, 100, 7),
                "{chunk}-byte chunks"
            );
        }
    }
}

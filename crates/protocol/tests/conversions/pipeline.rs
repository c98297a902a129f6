//! The streaming pipeline the gateway runs (SSE parser → upstream decoder → client encoder), for
//! tests that replay recorded upstream streams.

use bytes::BytesMut;
use protocol::ir::StreamEvent;
use protocol::sse::SseParser;
use protocol::stream::{ClientEncoder, UpstreamDecoder};

/// Feeds `bytes` in `chunk`-byte reads through a decoder and an encoder, as the gateway does.
pub fn run(
    bytes: &[u8],
    chunk: usize,
    decoder: &mut dyn UpstreamDecoder,
    encoder: &mut dyn ClientEncoder,
) -> (Vec<StreamEvent>, BytesMut) {
    let mut parser = SseParser::new();
    let (mut sse, mut events, mut out) = (Vec::new(), Vec::new(), BytesMut::new());
    let mut pump = |sse: &[protocol::sse::SseEvent], end: bool, events: &mut Vec<StreamEvent>| {
        let before = events.len();
        for e in sse {
            decoder.on_event(e, events);
        }
        if end {
            decoder.on_end(events);
        }
        for ev in &events[before..] {
            encoder.encode(ev, &mut out);
        }
    };
    for piece in bytes.chunks(chunk) {
        sse.clear();
        parser.feed(piece, &mut sse).unwrap();
        pump(&sse, false, &mut events);
    }
    sse.clear();
    parser.finish(&mut sse);
    pump(&sse, true, &mut events);
    (events, out)
}

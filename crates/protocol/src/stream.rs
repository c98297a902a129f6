//! The two halves of a translated stream, as traits, so one streaming loop in the gateway serves
//! every (upstream protocol, client protocol) pair: an [`UpstreamDecoder`] turns the upstream's SSE
//! events into internal events, a [`ClientEncoder`] turns those into the client's SSE bytes.

use crate::ir::StreamEvent;
use crate::sse::SseEvent;
use bytes::BytesMut;

/// Reads one upstream protocol's stream into internal events.
pub trait UpstreamDecoder: Send {
    /// Handles one SSE event, appending internal events to `out`.
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>);
    /// The upstream closed the connection; emits whatever ends the message (or an error).
    fn on_end(&mut self, out: &mut Vec<StreamEvent>);
    /// Whether the message is complete (or failed), so later input can be ignored.
    fn is_finished(&self) -> bool;
}

/// Writes internal events in one client protocol.
pub trait ClientEncoder: Send {
    /// Appends the bytes for `ev` to `out`.
    fn encode(&mut self, ev: &StreamEvent, out: &mut BytesMut);
}

impl UpstreamDecoder for crate::openai_chat::StreamDecoder {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) {
        crate::openai_chat::StreamDecoder::on_event(self, ev, out)
    }
    fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        crate::openai_chat::StreamDecoder::on_end(self, out)
    }
    fn is_finished(&self) -> bool {
        crate::openai_chat::StreamDecoder::is_finished(self)
    }
}

impl UpstreamDecoder for crate::anthropic::StreamDecoder {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) {
        crate::anthropic::StreamDecoder::on_event(self, ev, out)
    }
    fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        crate::anthropic::StreamDecoder::on_end(self, out)
    }
    fn is_finished(&self) -> bool {
        crate::anthropic::StreamDecoder::is_finished(self)
    }
}

impl ClientEncoder for crate::anthropic::StreamEncoder {
    fn encode(&mut self, ev: &StreamEvent, out: &mut BytesMut) {
        crate::anthropic::StreamEncoder::encode(self, ev, out)
    }
}

impl ClientEncoder for crate::openai_chat::StreamEncoder {
    fn encode(&mut self, ev: &StreamEvent, out: &mut BytesMut) {
        crate::openai_chat::StreamEncoder::encode(self, ev, out)
    }
}

impl UpstreamDecoder for crate::openai_responses::StreamDecoder {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) {
        crate::openai_responses::StreamDecoder::on_event(self, ev, out)
    }
    fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        crate::openai_responses::StreamDecoder::on_end(self, out)
    }
    fn is_finished(&self) -> bool {
        crate::openai_responses::StreamDecoder::is_finished(self)
    }
}

impl ClientEncoder for crate::openai_responses::StreamEncoder {
    fn encode(&mut self, ev: &StreamEvent, out: &mut BytesMut) {
        crate::openai_responses::StreamEncoder::encode(self, ev, out)
    }
}

impl UpstreamDecoder for crate::bedrock_converse::StreamDecoder {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) {
        crate::bedrock_converse::StreamDecoder::on_event(self, ev, out)
    }
    fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        crate::bedrock_converse::StreamDecoder::on_end(self, out)
    }
    fn is_finished(&self) -> bool {
        crate::bedrock_converse::StreamDecoder::is_finished(self)
    }
}

impl ClientEncoder for crate::bedrock_converse::StreamEncoder {
    fn encode(&mut self, ev: &StreamEvent, out: &mut BytesMut) {
        crate::bedrock_converse::StreamEncoder::encode(self, ev, out)
    }
}

/// Turns a complete answer into the events a stream of it would carry, for answers that are not
/// streamed upstream (mock responses, non-streaming upstreams). Text is cut into pieces of about
/// `piece` characters so clients see a real stream.
pub fn events_of_response(r: &crate::ir::Response, piece: usize) -> Vec<StreamEvent> {
    use crate::ir::{BlockStart, Delta, Part, Usage};
    let mut out = vec![StreamEvent::MessageStart {
        id: r.id.clone(),
        model: r.model.clone(),
        usage: Usage {
            output_tokens: 0,
            ..r.usage
        },
    }];
    let mut index = 0;
    for rank in 0..3 {
        for p in &r.content {
            let (block, deltas): (BlockStart, Vec<Delta>) = match (rank, p) {
                (0, Part::Reasoning(rp)) => match &rp.redacted {
                    Some(data) => (BlockStart::RedactedReasoning { data: data.clone() }, vec![]),
                    None => {
                        let mut d: Vec<Delta> =
                            split(&rp.text, piece).map(Delta::Reasoning).collect();
                        if let Some(s) = &rp.signature {
                            d.push(Delta::Signature(s.clone()));
                        }
                        (BlockStart::Reasoning, d)
                    }
                },
                (1, Part::Text(t)) if !t.is_empty() => {
                    (BlockStart::Text, split(t, piece).map(Delta::Text).collect())
                }
                (2, Part::ToolCall(c)) => (
                    BlockStart::ToolCall {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        kind: c.kind,
                    },
                    vec![Delta::ToolArguments(c.arguments.clone())],
                ),
                _ => continue,
            };
            out.push(StreamEvent::BlockStart { index, block });
            out.extend(
                deltas
                    .into_iter()
                    .map(|delta| StreamEvent::Delta { index, delta }),
            );
            out.push(StreamEvent::BlockStop { index });
            index += 1;
        }
    }
    out.push(StreamEvent::Finish {
        stop_reason: r.stop_reason.clone(),
        usage: r.usage,
    });
    out
}

/// Splits `s` into pieces of at most `n` characters, on character boundaries.
fn split(s: &str, n: usize) -> impl Iterator<Item = String> + '_ {
    let n = n.max(1);
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = rest.char_indices().nth(n).map_or(rest.len(), |(i, _)| i);
        let (head, tail) = rest.split_at(cut);
        rest = tail;
        Some(head.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Part, Response, StopReason, Usage};

    #[test]
    fn response_events_are_a_well_formed_stream() {
        let r = Response {
            id: "msg_1".into(),
            model: "m".into(),
            content: vec![Part::Text("héllo wörld".into())],
            stop_reason: StopReason::EndTurn,
            usage: Usage {
                input_tokens: 3,
                output_tokens: 2,
                ..Usage::default()
            },
        };
        let ev = events_of_response(&r, 4);
        let texts: Vec<String> = ev
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Delta {
                    delta: crate::ir::Delta::Text(t),
                    ..
                } => Some(t.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(texts, ["héll", "o wö", "rld"]);
        assert!(matches!(ev.last(), Some(StreamEvent::Finish { .. })));
    }
}

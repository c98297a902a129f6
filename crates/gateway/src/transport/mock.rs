//! The mock transport: `litellm_params.mock_response` answered without a network, as LiteLLM's
//! mock requests are. It answers in OpenAI Chat (the mock row's protocol), streamed or whole, so
//! a mock deployment goes through the same pass-through and translation paths as a real one.

use super::{Answer, BodyStream, Outgoing, Transport, TransportKind};
use crate::providers::deployment::{Deployment, Endpoint};
use crate::secrets::SecretSource;
use crate::upstream::{Upstream, UpstreamError};
use bytes::{Bytes, BytesMut};
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, header};
use protocol::ir::{Part, Response, StopReason, Usage};
use protocol::stream::ClientEncoder;
use protocol::target::{ResponseContext, ToolNames};

/// The table row's value for the `mock` provider.
pub static MOCK: MockKind = MockKind;

#[derive(Debug)]
/// [`TransportKind`] of mock deployments.
pub struct MockKind;

impl TransportKind for MockKind {
    fn needs_api_base(&self) -> bool {
        false
    }
    fn api_mode_applies(&self) -> bool {
        false
    }
    fn build(&self, d: &Deployment, _: &dyn SecretSource) -> Result<Box<dyn Transport>, String> {
        Ok(Box::new(MockTransport {
            text: d
                .definition
                .litellm_params
                .mock_response
                .clone()
                .unwrap_or_default(),
        }))
    }
}

/// Answers every request with the same text.
pub struct MockTransport {
    text: String,
}

impl Transport for MockTransport {
    fn send<'a>(
        &'a self,
        _: &'a Upstream,
        d: &'a Deployment,
        out: Outgoing<'a>,
    ) -> BoxFuture<'a, Result<Answer, UpstreamError>> {
        let answer = self.answer(d, &out);
        Box::pin(async move { Ok(answer) })
    }

    fn shown_url(&self, _: Endpoint, _: bool) -> String {
        "mock_response".to_owned()
    }
}

impl MockTransport {
    fn answer(&self, d: &Deployment, out: &Outgoing<'_>) -> Answer {
        let ctx = ResponseContext {
            id: crate::ids::new_id("chatcmpl-"),
            model: d.upstream_model.clone(),
            created: crate::ids::unix_now(),
            tool_names: ToolNames::default(),
        };
        let usage = Usage {
            input_tokens: (out.body.len() as u64 / 4).max(1),
            output_tokens: (self.text.split_whitespace().count() as u64 * 4)
                .div_ceil(3)
                .max(1),
            ..Usage::default()
        };
        let r = Response {
            id: ctx.id.clone(),
            model: ctx.model.clone(),
            content: vec![Part::Text(self.text.clone())],
            stop_reason: StopReason::EndTurn,
            usage,
        };
        let mut headers = HeaderMap::new();
        let body = if out.stream {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            let mut enc = protocol::openai_chat::StreamEncoder::new(ctx, true);
            let mut bytes = BytesMut::new();
            for ev in protocol::stream::events_of_response(&r, 16) {
                ClientEncoder::encode(&mut enc, &ev, &mut bytes);
            }
            bytes.freeze()
        } else {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Bytes::from(protocol::openai_chat::encode_response(&r, &ctx))
        };
        let body: BodyStream = Box::pin(futures_util::stream::once(async move { Ok(body) }));
        Answer::new(headers, body)
    }
}

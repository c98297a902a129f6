//! The wire APIs agent-shim speaks ([`Protocol`], DESIGN.md §2) and the one interface every
//! protocol module implements ([`Codec`]), so the gateway reads and writes any protocol through
//! the same calls. Adding a protocol means a module, an implementation of [`Codec`], and a
//! variant here; nothing in the gateway's dispatch branches on the protocol.
//!
//! Each side of a translated request goes through the internal model ([`crate::ir`]): the
//! client's codec decodes the request and encodes the answer; the upstream's codec encodes the
//! request and decodes the answer. Same-protocol requests are passed through byte for byte,
//! checked by the codec's [`StreamWatch`].

use crate::ir::{ApiError, Dropped, Request, Response};
use crate::stream::{ClientEncoder, UpstreamDecoder};
use crate::stream_watch::{AnthropicWatch, ChatWatch, ConverseWatch, ResponsesWatch, StreamWatch};
use crate::target::{
    AnthropicTarget, ChatTarget, ConverseTarget, ResponseContext, ResponsesTarget,
};
use crate::{anthropic, bedrock_converse, openai_chat, openai_responses};

/// A wire API, spoken by a client to the gateway or by the gateway to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Anthropic Messages (`/v1/messages`); also Bedrock's InvokeModel body for Claude.
    Anthropic,
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    OpenAiChat,
    /// OpenAI Responses (`/v1/responses`).
    OpenAiResponses,
    /// AWS Bedrock Converse (`/model/{id}/converse[-stream]`); spoken to upstreams only.
    BedrockConverse,
}

impl Protocol {
    /// Every protocol, in declaration order.
    pub const ALL: &'static [Protocol] = &[
        Protocol::Anthropic,
        Protocol::OpenAiChat,
        Protocol::OpenAiResponses,
        Protocol::BedrockConverse,
    ];

    /// The name used in docs, errors and logs (DESIGN.md §2): `anthropic`, `openai-chat`, ….
    pub fn as_str(self) -> &'static str {
        self.codec().name()
    }

    /// The protocol's codec.
    pub fn codec(self) -> &'static dyn Codec {
        match self {
            Protocol::Anthropic => &AnthropicCodec,
            Protocol::OpenAiChat => &ChatCodec,
            Protocol::OpenAiResponses => &ResponsesCodec,
            Protocol::BedrockConverse => &ConverseCodec,
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an upstream accepts, per protocol: each codec reads the part for its own protocol.
/// Built once per deployment from the provider table and the model definition.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub chat: ChatTarget,
    pub anthropic: AnthropicTarget,
    pub responses: ResponsesTarget,
    pub converse: ConverseTarget,
}

/// One protocol's reading and writing of requests, answers, streams and errors. All methods are
/// pure; errors are [`ApiError`]s worded for the user (`invalid_request_error` naming the field
/// for bad input).
pub trait Codec: Sync {
    /// The protocol's name ([`Protocol::as_str`]).
    fn name(&self) -> &'static str;
    /// The prefix of the ids the gateway gives answers it writes (`msg_`, `chatcmpl-`, `resp_`).
    fn id_prefix(&self) -> &'static str;
    /// Reads a client's request for translation. State kept by a server (Responses'
    /// `previous_response_id`) cannot be translated and is refused.
    fn decode_request(&self, body: &[u8]) -> Result<Request, ApiError>;
    /// Writes `req` for an upstream of this protocol; what `target` cannot take goes to
    /// `dropped` under the client's name for it.
    fn encode_request(&self, req: &Request, target: &Target, dropped: &mut Dropped) -> Vec<u8>;
    /// Reads an upstream's complete answer.
    fn decode_response(&self, body: &[u8], ctx: &ResponseContext) -> Result<Response, ApiError>;
    /// Writes a complete answer for a client.
    fn encode_response(&self, r: &Response, ctx: &ResponseContext) -> Vec<u8>;
    /// Reads an upstream's stream, one SSE event at a time. `input_estimate` (tokens) is
    /// reported until the upstream's own usage arrives.
    fn stream_decoder(
        &self,
        ctx: &ResponseContext,
        input_estimate: u64,
    ) -> Box<dyn UpstreamDecoder>;
    /// Writes a stream for a client. `include_usage`: a Chat client asked for the usage chunk
    /// (`stream_options.include_usage`); other protocols always carry usage.
    fn stream_encoder(&self, ctx: ResponseContext, include_usage: bool) -> Box<dyn ClientEncoder>;
    /// Checks a same-protocol stream passed through to a client; `ctx` names the answer in an
    /// error event written before the upstream named its own.
    fn stream_watch(&self, ctx: ResponseContext) -> Box<dyn StreamWatch>;
    /// The HTTP status a client of this protocol gets for `e`.
    fn error_status(&self, e: &ApiError) -> u16;
    /// The error body a client of this protocol gets for `e`.
    fn encode_error(&self, e: &ApiError) -> Vec<u8>;
}

struct AnthropicCodec;
struct ChatCodec;
struct ResponsesCodec;
struct ConverseCodec;

impl Codec for AnthropicCodec {
    fn name(&self) -> &'static str {
        "anthropic"
    }
    fn id_prefix(&self) -> &'static str {
        "msg_"
    }
    fn decode_request(&self, body: &[u8]) -> Result<Request, ApiError> {
        anthropic::decode_request(body)
    }
    fn encode_request(&self, req: &Request, target: &Target, dropped: &mut Dropped) -> Vec<u8> {
        anthropic::encode_request(req, &target.anthropic, dropped)
    }
    fn decode_response(&self, body: &[u8], ctx: &ResponseContext) -> Result<Response, ApiError> {
        anthropic::decode_response(body, &ctx.model)
    }
    fn encode_response(&self, r: &Response, _: &ResponseContext) -> Vec<u8> {
        anthropic::encode_response(r)
    }
    fn stream_decoder(&self, ctx: &ResponseContext, _: u64) -> Box<dyn UpstreamDecoder> {
        Box::new(anthropic::StreamDecoder::new(ctx.model.clone()))
    }
    fn stream_encoder(&self, _: ResponseContext, _: bool) -> Box<dyn ClientEncoder> {
        Box::new(anthropic::StreamEncoder::new())
    }
    fn stream_watch(&self, _: ResponseContext) -> Box<dyn StreamWatch> {
        Box::new(AnthropicWatch::new())
    }
    fn error_status(&self, e: &ApiError) -> u16 {
        anthropic::error_status(e)
    }
    fn encode_error(&self, e: &ApiError) -> Vec<u8> {
        anthropic::encode_error(e)
    }
}

impl Codec for ChatCodec {
    fn name(&self) -> &'static str {
        "openai-chat"
    }
    fn id_prefix(&self) -> &'static str {
        "chatcmpl-"
    }
    fn decode_request(&self, body: &[u8]) -> Result<Request, ApiError> {
        openai_chat::decode_request(body)
    }
    fn encode_request(&self, req: &Request, target: &Target, dropped: &mut Dropped) -> Vec<u8> {
        openai_chat::encode_request(req, &target.chat, dropped)
    }
    fn decode_response(&self, body: &[u8], ctx: &ResponseContext) -> Result<Response, ApiError> {
        openai_chat::decode_response(body, ctx)
    }
    fn encode_response(&self, r: &Response, ctx: &ResponseContext) -> Vec<u8> {
        openai_chat::encode_response(r, ctx)
    }
    fn stream_decoder(&self, ctx: &ResponseContext, estimate: u64) -> Box<dyn UpstreamDecoder> {
        Box::new(openai_chat::StreamDecoder::new(ctx.clone(), estimate))
    }
    fn stream_encoder(&self, ctx: ResponseContext, include_usage: bool) -> Box<dyn ClientEncoder> {
        Box::new(openai_chat::StreamEncoder::new(ctx, include_usage))
    }
    fn stream_watch(&self, ctx: ResponseContext) -> Box<dyn StreamWatch> {
        Box::new(ChatWatch::new(ctx))
    }
    fn error_status(&self, e: &ApiError) -> u16 {
        openai_chat::error_status(e)
    }
    fn encode_error(&self, e: &ApiError) -> Vec<u8> {
        openai_chat::encode_error(e)
    }
}

impl Codec for ResponsesCodec {
    fn name(&self) -> &'static str {
        "openai-responses"
    }
    fn id_prefix(&self) -> &'static str {
        "resp_"
    }
    fn decode_request(&self, body: &[u8]) -> Result<Request, ApiError> {
        openai_responses::decode_request(body)
    }
    fn encode_request(&self, req: &Request, target: &Target, dropped: &mut Dropped) -> Vec<u8> {
        openai_responses::encode_request(req, &target.responses, dropped)
    }
    fn decode_response(&self, body: &[u8], ctx: &ResponseContext) -> Result<Response, ApiError> {
        openai_responses::decode_response(body, ctx)
    }
    fn encode_response(&self, r: &Response, ctx: &ResponseContext) -> Vec<u8> {
        openai_responses::encode_response(r, ctx)
    }
    fn stream_decoder(&self, ctx: &ResponseContext, estimate: u64) -> Box<dyn UpstreamDecoder> {
        Box::new(openai_responses::StreamDecoder::new(ctx.clone(), estimate))
    }
    fn stream_encoder(&self, ctx: ResponseContext, _: bool) -> Box<dyn ClientEncoder> {
        Box::new(openai_responses::StreamEncoder::new(ctx))
    }
    fn stream_watch(&self, ctx: ResponseContext) -> Box<dyn StreamWatch> {
        Box::new(ResponsesWatch::new(ctx))
    }
    fn error_status(&self, e: &ApiError) -> u16 {
        openai_responses::error_status(e)
    }
    fn encode_error(&self, e: &ApiError) -> Vec<u8> {
        openai_responses::encode_error(e)
    }
}

impl Codec for ConverseCodec {
    fn name(&self) -> &'static str {
        "bedrock-converse"
    }
    fn id_prefix(&self) -> &'static str {
        "msg_"
    }
    fn decode_request(&self, body: &[u8]) -> Result<Request, ApiError> {
        bedrock_converse::decode_request(body)
    }
    fn encode_request(&self, req: &Request, target: &Target, dropped: &mut Dropped) -> Vec<u8> {
        bedrock_converse::encode_request(req, &target.converse, dropped)
    }
    fn decode_response(&self, body: &[u8], ctx: &ResponseContext) -> Result<Response, ApiError> {
        bedrock_converse::decode_response(body, ctx)
    }
    fn encode_response(&self, r: &Response, ctx: &ResponseContext) -> Vec<u8> {
        bedrock_converse::encode_response(r, ctx)
    }
    fn stream_decoder(&self, ctx: &ResponseContext, estimate: u64) -> Box<dyn UpstreamDecoder> {
        Box::new(bedrock_converse::StreamDecoder::new(ctx.clone(), estimate))
    }
    fn stream_encoder(&self, ctx: ResponseContext, _: bool) -> Box<dyn ClientEncoder> {
        Box::new(bedrock_converse::StreamEncoder::new(ctx))
    }
    fn stream_watch(&self, ctx: ResponseContext) -> Box<dyn StreamWatch> {
        Box::new(ConverseWatch::new(ctx))
    }
    fn error_status(&self, e: &ApiError) -> u16 {
        bedrock_converse::error_status(e)
    }
    fn encode_error(&self, e: &ApiError) -> Vec<u8> {
        bedrock_converse::encode_error(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_design_vocabulary() {
        let names: Vec<_> = Protocol::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "anthropic",
                "openai-chat",
                "openai-responses",
                "bedrock-converse"
            ]
        );
    }

    #[test]
    fn every_codec_answers_errors_in_its_own_shape() {
        let e = ApiError::invalid_request("bad field");
        for p in Protocol::ALL {
            let body = p.codec().encode_error(&e);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert!(v.to_string().contains("bad field"), "{p}: {v}");
            assert_eq!(p.codec().error_status(&e), 400, "{p}");
        }
    }
}

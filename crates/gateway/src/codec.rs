//! Which protocol-crate function serves each side of a request: the client's protocol decides
//! how the request is read and the answer written; the deployment's protocol decides how the
//! request is written upstream and the answer read. Every pair goes through the internal model
//! (DESIGN.md §4.1), so this is one table per side, not one converter per pair.

use crate::error::ClientProtocol;
use crate::providers::deployment::Deployment;
use crate::providers::table::Protocol;
use protocol::ir::{ApiError, Dropped, Request, Response};
use protocol::stream::{ClientEncoder, UpstreamDecoder};
use protocol::stream_watch::{AnthropicWatch, ChatWatch, ResponsesWatch, StreamWatch};
use protocol::target::ResponseContext;
use protocol::{anthropic, openai_chat, openai_responses};

/// The upstream protocol that speaks the client's protocol natively (pass-through).
pub fn native(client: ClientProtocol) -> Protocol {
    match client {
        ClientProtocol::Anthropic => Protocol::Anthropic,
        ClientProtocol::OpenAiChat => Protocol::OpenAiChat,
        ClientProtocol::OpenAiResponses => Protocol::OpenAiResponses,
    }
}

/// The prefix of the ids the gateway gives answers in the client's protocol.
pub fn id_prefix(client: ClientProtocol) -> &'static str {
    match client {
        ClientProtocol::Anthropic => "msg_",
        ClientProtocol::OpenAiChat => "chatcmpl-",
        ClientProtocol::OpenAiResponses => "resp_",
    }
}

/// Reads the client's request. For Responses, server-side state (`previous_response_id`,
/// `conversation`) is refused unless `upstream_keeps_state` (a Responses upstream gets it as is).
pub fn decode_request(
    client: ClientProtocol,
    body: &[u8],
    upstream_keeps_state: bool,
) -> Result<Request, ApiError> {
    match client {
        ClientProtocol::Anthropic => anthropic::decode_request(body),
        ClientProtocol::OpenAiChat => openai_chat::decode_request(body),
        ClientProtocol::OpenAiResponses => {
            let d = openai_responses::decode(body)?;
            match d.state_error() {
                Some(e) if !upstream_keeps_state => Err(e),
                _ => Ok(d.request),
            }
        }
    }
}

/// Writes the request for the deployment's upstream. Fields the upstream cannot take are added to
/// `dropped`.
pub fn encode_request(req: &Request, d: &Deployment, dropped: &mut Dropped) -> Vec<u8> {
    match d.protocol() {
        Protocol::Anthropic => anthropic::encode_request(req, &d.anthropic, dropped),
        Protocol::OpenAiResponses => openai_responses::encode_request(req, &d.responses, dropped),
        Protocol::OpenAiChat | Protocol::Mock => openai_chat::encode_request(req, &d.chat, dropped),
    }
}

/// Reads a complete upstream answer.
pub fn decode_response(
    d: &Deployment,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Response, ApiError> {
    match d.protocol() {
        Protocol::Anthropic => anthropic::decode_response(body, &ctx.model),
        Protocol::OpenAiResponses => openai_responses::decode_response(body, ctx),
        Protocol::OpenAiChat | Protocol::Mock => openai_chat::decode_response(body, ctx),
    }
}

/// Writes a complete answer in the client's protocol.
pub fn encode_response(client: ClientProtocol, r: &Response, ctx: &ResponseContext) -> Vec<u8> {
    match client {
        ClientProtocol::Anthropic => anthropic::encode_response(r),
        ClientProtocol::OpenAiChat => openai_chat::encode_response(r, ctx),
        ClientProtocol::OpenAiResponses => openai_responses::encode_response(r, ctx),
    }
}

/// Reads the deployment's upstream stream. `input_estimate` is reported until real usage arrives.
pub fn upstream_decoder(
    d: &Deployment,
    ctx: &ResponseContext,
    input_estimate: u64,
) -> Box<dyn UpstreamDecoder> {
    match d.protocol() {
        Protocol::Anthropic => Box::new(anthropic::StreamDecoder::new(ctx.model.clone())),
        Protocol::OpenAiResponses => Box::new(openai_responses::StreamDecoder::new(
            ctx.clone(),
            input_estimate,
        )),
        Protocol::OpenAiChat | Protocol::Mock => {
            Box::new(openai_chat::StreamDecoder::new(ctx.clone(), input_estimate))
        }
    }
}

/// Writes a stream in the client's protocol. `include_usage`: a Chat client asked for the usage
/// chunk (`stream_options.include_usage`).
pub fn client_encoder(
    client: ClientProtocol,
    ctx: ResponseContext,
    include_usage: bool,
) -> Box<dyn ClientEncoder> {
    match client {
        ClientProtocol::Anthropic => Box::new(anthropic::StreamEncoder::new()),
        ClientProtocol::OpenAiChat => Box::new(openai_chat::StreamEncoder::new(ctx, include_usage)),
        ClientProtocol::OpenAiResponses => Box::new(openai_responses::StreamEncoder::new(ctx)),
    }
}

/// Watches a same-protocol stream passed through to the client ([`crate::stream_loop`]).
/// `ctx` names the answer in an error event written before the upstream named its own.
pub fn stream_watch(client: ClientProtocol, ctx: ResponseContext) -> Box<dyn StreamWatch> {
    match client {
        ClientProtocol::Anthropic => Box::new(AnthropicWatch::new()),
        ClientProtocol::OpenAiChat => Box::new(ChatWatch::new(ctx)),
        ClientProtocol::OpenAiResponses => Box::new(ResponsesWatch::new(ctx)),
    }
}

//! Bedrock's errors as each client sees them: exception frames in the middle of an
//! InvokeModel or Converse stream, HTTP errors before any byte (retried when that can help), and
//! a request signed with the wrong secret.

use crate::bedrock::{
    CLAUDE, KEY_ID, NOVA, REGION, accepted, aws_fake, bedrock_def, gateway_of, post, request,
};
use crate::faults::clients::{Client, json_of, sse};
use fake_provider::{BedrockOperation as Op, FakeProvider, Fault, Reply};
use futures_util::future::join_all;
use gateway::ModelDefinition;
use serde_json::{Value, json};

const CLIENTS: [Client; 3] = [Client::Anthropic, Client::Chat, Client::Responses];

/// An exception, and the error type each client gets for it: Anthropic's `error.type`, Chat's
/// `error.type`, Responses' `response.error.code`.
struct Exception {
    name: &'static str,
    anthropic: &'static str,
    chat: &'static str,
    responses: &'static str,
}

const EXCEPTIONS: [Exception; 5] = [
    Exception {
        name: "throttlingException",
        anthropic: "rate_limit_error",
        chat: "rate_limit_error",
        responses: "rate_limit_exceeded",
    },
    Exception {
        name: "modelStreamErrorException",
        anthropic: "overloaded_error",
        chat: "server_error",
        responses: "server_error",
    },
    Exception {
        name: "validationException",
        anthropic: "invalid_request_error",
        chat: "invalid_request_error",
        responses: "server_error",
    },
    Exception {
        name: "internalServerException",
        anthropic: "api_error",
        chat: "server_error",
        responses: "server_error",
    },
    Exception {
        name: "serviceUnavailableException",
        anthropic: "overloaded_error",
        chat: "server_error",
        responses: "server_error",
    },
];

/// `(type, message)` of the error that ends a stream in `client`'s protocol, checking that
/// some text came before it and that the stream did not also claim success.
fn stream_failure(client: Client, body: &[u8]) -> (String, String) {
    let events = sse(body);
    let all: Vec<Value> = events
        .iter()
        .filter(|e| e.data != "[DONE]")
        .map(json_of)
        .collect();
    let last = all.last().unwrap();
    let s = |v: &Value| v.as_str().unwrap_or_else(|| panic!("{last}")).to_owned();
    match client {
        Client::Anthropic => {
            assert_eq!(events.last().unwrap().event.as_deref(), Some("error"));
            assert!(all.iter().all(|e| e["type"] != "message_stop"));
            assert!(all.iter().any(|e| e["type"] == "message_start"));
            (s(&last["error"]["type"]), s(&last["error"]["message"]))
        }
        Client::Chat => {
            assert!(events.iter().all(|e| e.data != "[DONE]"), "no [DONE]");
            (s(&last["error"]["type"]), s(&last["error"]["message"]))
        }
        Client::Responses => {
            assert_eq!(last["type"], "response.failed", "{last}");
            assert!(all.iter().all(|e| e["type"] != "response.completed"));
            let e = &last["response"]["error"];
            (s(&e["code"]), s(&e["message"]))
        }
    }
}

/// Every mid-stream exception, through InvokeModelWithResponseStream and ConverseStream, ends
/// each client's stream with its protocol's error of the right type and Bedrock's message.
#[tokio::test]
async fn mid_stream_exceptions_become_each_clients_error_event() {
    let mut b = aws_fake();
    let mut models = Vec::new();
    let mut fake_models = Vec::new();
    for (i, e) in EXCEPTIONS.iter().enumerate() {
        for (op, base) in [
            (Op::InvokeModelWithResponseStream, CLAUDE),
            (Op::ConverseStream, NOVA),
        ] {
            // One upstream id per row: the base id with a row suffix.
            let id = format!("{base}-{i}");
            let reply = Reply::text("partial words that never finish").with_stream_error(
                2,
                e.name,
                &format!("{} happened", e.name),
            );
            b = b.bedrock(&id, op, reply);
            fake_models.push((e, op, id));
        }
    }
    let fake = b.start().await.unwrap();
    for (i, (_, op, id)) in fake_models.iter().enumerate() {
        let forced = if op.is_converse() {
            "converse"
        } else {
            "invoke"
        };
        models.push(keyed_model(
            &format!("m{i}"),
            &format!("{forced}/{id}"),
            &fake,
        ));
    }
    let gw = gateway_of(models, 1).await;
    for client in CLIENTS {
        for (i, (e, op, _)) in fake_models.iter().enumerate() {
            let case = format!("{client:?} {} via {}", e.name, op.as_str());
            let resp = post(&gw, client, &request(client, &format!("m{i}"), true), &[]).await;
            assert_eq!(resp.status(), 200, "{case}: the stream had begun");
            let (kind, message) = stream_failure(client, &resp.bytes().await.unwrap());
            let want = match client {
                Client::Anthropic => e.anthropic,
                Client::Chat => e.chat,
                Client::Responses => e.responses,
            };
            assert_eq!(kind, want, "{case}: {message}");
            assert!(
                message.contains(&format!("{} happened", e.name)),
                "{case}: {message}"
            );
        }
    }
    // Nothing is retried once the stream has begun.
    assert_eq!(
        accepted(&fake, KEY_ID).len(),
        CLIENTS.len() * fake_models.len()
    );
}

fn keyed_model(name: &str, model: &str, fake: &FakeProvider) -> ModelDefinition {
    bedrock_def(
        name,
        model,
        fake,
        json!({"aws_access_key_id": "os.environ/BR_KEY_ID",
               "aws_secret_access_key": "os.environ/BR_SECRET"}),
    )
}

/// `(status, headers, error type, message)` of an error answer in `client`'s protocol.
async fn error_of(
    resp: reqwest::Response,
    client: Client,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let v: Value = resp.json().await.unwrap();
    if client == Client::Anthropic {
        assert_eq!(v["type"], "error", "{v}");
    }
    (status, headers, v["error"].clone())
}

/// A 429 ThrottlingException is retried (num_retries 1: two attempts, the second after the
/// `retry-after` the gateway gives Bedrock's throttling), then reaches the client as a 429 with
/// `retry-after`; through both operations, streaming and not. The cases run at once, each on
/// its own upstream id.
#[tokio::test]
async fn throttling_429_is_retried_then_a_429_with_retry_after() {
    let mut b = aws_fake();
    for op in Op::ALL {
        b = b.bedrock_any_model(
            op,
            Reply::http_error(429, Some("ThrottlingException"), None),
        );
    }
    let fake = b.start().await.unwrap();
    let mut cases = Vec::new();
    let mut models = Vec::new();
    for client in CLIENTS {
        for (family, base) in [("claude", CLAUDE), ("nova", NOVA)] {
            for stream in [false, true] {
                let name = format!("{family}-{client:?}-{stream}");
                let id = format!("{base}-{client:?}-{stream}");
                models.push(keyed_model(&name, &id, &fake));
                cases.push((client, name, id, stream));
            }
        }
    }
    let gw = gateway_of(models, 1).await;
    let answers = join_all(cases.iter().map(|(client, name, _, stream)| async {
        let resp = post(&gw, *client, &request(*client, name, *stream), &[]).await;
        error_of(resp, *client).await
    }))
    .await;
    let reqs = accepted(&fake, KEY_ID);
    for ((_, name, id, _), (status, headers, e)) in cases.iter().zip(answers) {
        assert_eq!(status, 429, "{name}: {e}");
        assert_eq!(e["type"], "rate_limit_error", "{name}");
        let message = e["message"].as_str().unwrap();
        assert!(message.contains("ThrottlingException"), "{name}: {message}");
        assert!(message.contains("Too many requests"), "{name}: {message}");
        assert_eq!(headers.get("retry-after").unwrap(), "2", "{name}");
        let sent = reqs
            .iter()
            .filter(|r| r.aws.as_ref().unwrap().model_id.as_ref() == Some(id))
            .count();
        assert_eq!(sent, 2, "{name}: one retry");
    }
}

/// A Bedrock refusal before any byte, and what each client must get for it.
struct Case {
    name: &'static str,
    reply: Reply,
    status: u16,
    anthropic: &'static str,
    /// Chat's `error.type` and `error.code`.
    chat: (&'static str, Option<&'static str>),
    words: &'static [&'static str],
}

/// Errors that no retry helps: each is sent once and reaches each client with its status, type
/// and a message that names the fix.
#[tokio::test]
async fn refusals_before_the_stream_keep_their_status_and_name_the_fix() {
    refusals(vec![
        Case {
            name: "denied",
            reply: Reply::http_error(
                403,
                Some("AccessDeniedException"),
                Some("You don't have access to the model with the specified model ID."),
            ),
            status: 403,
            anthropic: "permission_error",
            chat: ("permission_error", None),
            words: &[
                "AccessDeniedException",
                "bedrock:InvokeModel",
                "Model access",
            ],
        },
        Case {
            name: "invalid",
            reply: Reply::http_error(
                400,
                Some("ValidationException"),
                Some("The provided request is not valid"),
            ),
            status: 400,
            anthropic: "invalid_request_error",
            chat: ("invalid_request_error", None),
            words: &["ValidationException", "The provided request is not valid"],
        },
        Case {
            name: "not-found",
            reply: Reply::http_error(
                404,
                Some("ResourceNotFoundException"),
                Some("Could not resolve the foundation model from the provided model identifier."),
            ),
            status: 404,
            anthropic: "not_found_error",
            chat: ("invalid_request_error", Some("model_not_found")),
            words: &[
                "ResourceNotFoundException",
                "check the model id",
                "cross-region ids",
            ],
        },
    ])
    .await;
}

/// Regression: Bedrock's "Input is too long for requested model." was a plain 400, and the
/// message of a context-length error lacked "prompt is too long", the words on which Claude
/// Code compacts the conversation.
#[tokio::test]
async fn bedrock_input_too_long_is_a_context_length_error_saying_prompt_is_too_long() {
    refusals(vec![
        Case {
            name: "too-long-invoke",
            reply: Reply::http_error(
                400,
                Some("ValidationException"),
                Some("Input is too long for requested model."),
            ),
            status: 400,
            anthropic: "invalid_request_error",
            chat: ("invalid_request_error", Some("context_length_exceeded")),
            words: &[
                "prompt is too long",
                "Input is too long for requested model.",
            ],
        },
        Case {
            name: "too-long-converse",
            reply: Reply::http_error(
                400,
                Some("ValidationException"),
                Some("prompt is too long: 215000 tokens > 200000 maximum"),
            ),
            status: 400,
            anthropic: "invalid_request_error",
            chat: ("invalid_request_error", Some("context_length_exceeded")),
            words: &["prompt is too long", "215000 tokens"],
        },
    ])
    .await;
}

/// Sends each case's request from each client, through both operations, streaming and not.
async fn refusals(cases: Vec<Case>) {
    let mut b = aws_fake();
    let mut models = Vec::new();
    for c in &cases {
        for op in Op::ALL {
            let id = format!(
                "{}-{}",
                if op.is_converse() { NOVA } else { CLAUDE },
                c.name
            );
            b = b.bedrock(&id, op, c.reply.clone());
        }
    }
    let fake = b.start().await.unwrap();
    for c in &cases {
        models.push(keyed_model(
            &format!("claude-{}", c.name),
            &format!("{CLAUDE}-{}", c.name),
            &fake,
        ));
        models.push(keyed_model(
            &format!("nova-{}", c.name),
            &format!("{NOVA}-{}", c.name),
            &fake,
        ));
    }
    let gw = gateway_of(models, 1).await;
    for c in &cases {
        for client in CLIENTS {
            for family in ["claude", "nova"] {
                for stream in [false, true] {
                    let case = format!("{} {client:?} {family} stream={stream}", c.name);
                    fake.clear_requests();
                    let model = format!("{family}-{}", c.name);
                    let resp = post(&gw, client, &request(client, &model, stream), &[]).await;
                    let (status, _, e) = error_of(resp, client).await;
                    assert_eq!(status, c.status, "{case}: {e}");
                    let message = e["message"].as_str().unwrap();
                    for w in c.words {
                        assert!(message.contains(w), "{case}: {w:?} missing from {message}");
                    }
                    if client == Client::Anthropic {
                        assert_eq!(e["type"], c.anthropic, "{case}");
                    } else {
                        assert_eq!(
                            (e["type"].as_str(), e["code"].as_str()),
                            (Some(c.chat.0), c.chat.1),
                            "{case}"
                        );
                    }
                    assert_eq!(accepted(&fake, KEY_ID).len(), 1, "{case}: not retried");
                }
            }
        }
    }
}

/// A request signed with the wrong secret: the fake's 403 InvalidSignatureException reaches the
/// client as a 403 that says to check the AWS credentials, and is not retried. Regression: it
/// was a 401 `authentication_error`, on which Claude Code and Codex send their user to log in to
/// the gateway, whose key was fine.
#[tokio::test]
async fn wrong_secret_is_a_403_not_a_401_and_says_to_check_the_aws_credentials() {
    let fake = aws_fake()
        .bedrock(CLAUDE, Op::InvokeModel, Reply::text("never"))
        .bedrock(NOVA, Op::ConverseStream, Reply::text("never"))
        .start()
        .await
        .unwrap();
    let wrong = |name: &str, id: &str| {
        bedrock_def(
            name,
            id,
            &fake,
            json!({"aws_access_key_id": KEY_ID, "aws_secret_access_key": "not-the-secret"}),
        )
    };
    let gw = gateway_of(vec![wrong("claude", CLAUDE), wrong("nova", NOVA)], 1).await;
    for (client, model, stream) in [
        (Client::Anthropic, "claude", false),
        (Client::Chat, "nova", true),
    ] {
        fake.clear_requests();
        let resp = post(&gw, client, &request(client, model, stream), &[]).await;
        let (status, _, e) = error_of(resp, client).await;
        assert_eq!(status, 403, "{client:?}: {e}");
        let message = e["message"].as_str().unwrap();
        assert!(message.contains("InvalidSignatureException"), "{message}");
        assert!(message.contains("check the AWS credentials"), "{message}");
        assert!(!message.contains("not-the-secret"), "{message}");
        let reqs = fake.aws_requests();
        assert_eq!(reqs.len(), 1, "{client:?}: not retried");
        let call = reqs[0].aws.as_ref().unwrap();
        assert_eq!(call.rejected.as_deref(), Some("InvalidSignatureException"));
        assert_eq!(call.sigv4.as_ref().unwrap().region, REGION);
    }
}

/// A broken event stream is never passed off as a complete answer: a frame whose CRC is wrong
/// before any content is a failed attempt (retried, then an error before any byte); a
/// connection cut inside the stream ends each client's stream with its error event.
#[tokio::test]
async fn corrupted_or_cut_event_streams_end_with_an_error_event() {
    let text = "a long answer that the upstream will not finish sending";
    let corrupt = || Reply {
        fault: Some(Fault::Garbage),
        ..Reply::text(text)
    };
    let cut = || {
        let mut r = Reply::text(text);
        r.stream.cut_after = Some(3);
        r
    };
    let fake = aws_fake()
        .bedrock(
            &format!("{CLAUDE}-corrupt"),
            Op::InvokeModelWithResponseStream,
            corrupt(),
        )
        .bedrock(&format!("{NOVA}-corrupt"), Op::ConverseStream, corrupt())
        .bedrock(
            &format!("{CLAUDE}-cut"),
            Op::InvokeModelWithResponseStream,
            cut(),
        )
        .bedrock(&format!("{NOVA}-cut"), Op::ConverseStream, cut())
        .start()
        .await
        .unwrap();
    let mut models = Vec::new();
    for case in ["corrupt", "cut"] {
        models.push(keyed_model(
            &format!("claude-{case}"),
            &format!("{CLAUDE}-{case}"),
            &fake,
        ));
        models.push(keyed_model(
            &format!("nova-{case}"),
            &format!("{NOVA}-{case}"),
            &fake,
        ));
    }
    let gw = gateway_of(models, 1).await;
    for (case, words) in [
        ("corrupt", "unreadable event-stream frame"),
        ("cut", "unexpected EOF"),
    ] {
        for family in ["claude", "nova"] {
            for client in CLIENTS {
                let model = format!("{family}-{case}");
                let resp = post(&gw, client, &request(client, &model, true), &[]).await;
                if case == "corrupt" {
                    let (status, _, e) = error_of(resp, client).await;
                    let message = e["message"].as_str().unwrap_or_default();
                    assert_eq!(status, 502, "{model} {client:?}: {e}");
                    assert!(
                        message.contains("broke off its stream before any content")
                            && message.contains(words),
                        "{model} {client:?}: {message}"
                    );
                    continue;
                }
                assert_eq!(resp.status(), 200, "{model} {client:?}");
                let (_, message) = stream_failure(client, &resp.bytes().await.unwrap());
                assert!(
                    message.contains("broke off the stream") && message.contains(words),
                    "{model} {client:?}: {message}"
                );
            }
        }
    }
}

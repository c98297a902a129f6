//! Every recorded request and stream of `tests/fixtures` (the fuzz targets' seed corpora) through
//! the same whole-pipeline exercises as the fuzz targets (`protocol::exercise`), and the inputs the
//! fuzzers found, each named after what broke.

use protocol::exercise::{self, Wire};
use protocol::ir::StreamEvent;
use protocol::sse::SseParser;
use protocol::stream::UpstreamDecoder;
use protocol::target::{ResponseContext, ToolNames};
use protocol::{anthropic, bedrock_converse, openai_chat, openai_responses};
use std::path::Path;

fn fixtures(dir: &str, ext: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no .{ext} fixtures in {}", dir.display());
    out
}

#[test]
fn recorded_requests_pass_the_request_exercise() {
    for (name, wire) in [
        ("claude_code_request.json", Wire::Anthropic),
        ("chat_request.json", Wire::Chat),
        ("codex_request.json", Wire::Responses),
        ("converse_request.json", Wire::Converse),
    ] {
        let body = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name),
        )
        .unwrap();
        exercise::request(wire, &body);
    }
}

#[test]
fn recorded_streams_pass_the_sse_and_stream_exercises() {
    for (dir, wire) in [
        ("anthropic_stream", Wire::Anthropic),
        ("chat_stream", Wire::Chat),
        ("responses_stream", Wire::Responses),
        ("converse_stream", Wire::Converse),
    ] {
        for (name, bytes) in fixtures(dir, "sse") {
            eprintln!("{name}");
            exercise::sse(&bytes);
            exercise::upstream_stream(wire, &bytes);
        }
    }
}

/// Every input a fuzz target crashed on, kept as found in `tests/fixtures/fuzz_crashes/<target>/`
/// (named after what broke), through its target's exercise again.
#[test]
fn inputs_the_fuzzers_crashed_on_pass_now() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz_crashes");
    let mut replayed = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let target = dir.file_name().unwrap().to_str().unwrap().to_owned();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            eprintln!("{}", file.display());
            let bytes = std::fs::read(&file).unwrap();
            match target.as_str() {
                "anthropic_request" => exercise::request(Wire::Anthropic, &bytes),
                "chat_request" => exercise::request(Wire::Chat, &bytes),
                "responses_request" => exercise::request(Wire::Responses, &bytes),
                "sse_parser" => exercise::sse(&bytes),
                "anthropic_stream" => exercise::upstream_stream(Wire::Anthropic, &bytes),
                "chat_stream" => exercise::upstream_stream(Wire::Chat, &bytes),
                "responses_stream" => exercise::upstream_stream(Wire::Responses, &bytes),
                other => panic!("fuzz_crashes/{other}: no such fuzz target"),
            }
            replayed += 1;
        }
    }
    assert!(
        replayed >= 2,
        "the crash inputs were not found in {}",
        root.display()
    );
}

/// The events of an upstream body, through the exercise first.
fn decoded(wire: Wire, body: &str) -> Vec<StreamEvent> {
    exercise::upstream_stream(wire, body.as_bytes());
    let mut parser = SseParser::new();
    let (mut sse, mut events) = (Vec::new(), Vec::new());
    parser.feed(body.as_bytes(), &mut sse).unwrap();
    parser.finish(&mut sse);
    let mut d: Box<dyn UpstreamDecoder> = match wire {
        Wire::Anthropic => Box::new(anthropic::StreamDecoder::new("m")),
        Wire::Chat => Box::new(openai_chat::StreamDecoder::new(ctx(), 0)),
        Wire::Responses => Box::new(openai_responses::StreamDecoder::new(ctx(), 0)),
        Wire::Converse => Box::new(bedrock_converse::StreamDecoder::new(ctx(), 0)),
    };
    for e in &sse {
        d.on_event(e, &mut events);
    }
    d.on_end(&mut events);
    events
}

fn ctx() -> ResponseContext {
    ResponseContext {
        id: "msg_f".into(),
        model: "m".into(),
        created: 1,
        tool_names: ToolNames::default(),
    }
}

fn final_error(events: &[StreamEvent]) -> String {
    match events.last() {
        Some(StreamEvent::Error(e)) => e.message.clone(),
        other => panic!("the stream does not end in an error: {other:?}"),
    }
}

/// Regression (fuzz, chat_stream): a call whose fragments never carried a name was forwarded with
/// an empty name, which Codex cannot run and Anthropic refuses in the next request's history.
#[test]
fn chat_upstream_tool_call_without_a_name_fails_the_stream() {
    let body = concat!(
        r#"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"Reading."}}]}"#,
        "\n\n",
        r#"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_7","function":{"arguments":"{}"}}]}}]}"#,
        "\n\n",
        r#"data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        "\n\ndata: [DONE]\n\n",
    );
    let events = decoded(Wire::Chat, body);
    assert_eq!(
        final_error(&events),
        "upstream sent a tool call without a name (call id call_7)"
    );
}

/// The same for a Responses upstream's `function_call` item.
#[test]
fn responses_upstream_function_call_without_a_name_fails_the_stream() {
    let body = concat!(
        "event: response.created\n",
        r#"data: {"type":"response.created","response":{"id":"r","status":"in_progress","output":[]}}"#,
        "\n\nevent: response.output_item.added\n",
        r#"data: {"type":"response.output_item.added","output_index":0,"item":{"id":"fc_1","type":"function_call","call_id":"call_8","arguments":""}}"#,
        "\n\n",
    );
    let events = decoded(Wire::Responses, body);
    assert!(final_error(&events).contains("without a name (call id call_8)"));
}

/// Regression (fuzz, anthropic_stream): a `content_block_delta` for a block that is not open was
/// forwarded to a block the client never saw ("Content block not found").
#[test]
fn anthropic_upstream_delta_for_a_block_not_open_fails_the_stream() {
    let start = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3,"output_tokens":1}}}"#,
        "\n\nevent: content_block_start\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        "\n\n",
    );
    let not_open = format!(
        "{start}event: content_block_delta\n{}\n\n",
        r#"data: {"type":"content_block_delta","index":5,"delta":{"type":"text_delta","text":"x"}}"#
    );
    let events = decoded(Wire::Anthropic, &not_open);
    assert!(
        final_error(&events).contains("content_block_delta for block 5, which is not open"),
        "{events:?}"
    );

    // Other breaks of the structure end the same way.
    let wrong_kind = format!(
        "{start}event: content_block_delta\n{}\n\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#
    );
    assert!(final_error(&decoded(Wire::Anthropic, &wrong_kind)).contains("not of that kind"));
    let twice = format!(
        "{start}event: content_block_start\n{}\n\n",
        r#"data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#
    );
    assert!(final_error(&decoded(Wire::Anthropic, &twice)).contains("while block 0 is open"));
    let before_start = concat!(
        "event: content_block_start\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        "\n\n",
    );
    assert!(final_error(&decoded(Wire::Anthropic, before_start)).contains("before message_start"));
}

/// Found by the anthropic_stream fuzz target in CI: a `tool_use` block without an `id` went on to
/// Responses clients as a `function_call` with an empty `call_id`, which no client can answer.
#[test]
fn anthropic_upstream_tool_use_without_an_id_fails_the_stream() {
    let stream = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3,"output_tokens":1}}}"#,
        "\n\nevent: content_block_start\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","qd":"toolu_1","name":"Bash","input":{}}}"#,
        "\n\n",
    );
    let events = decoded(Wire::Anthropic, stream);
    assert!(
        final_error(&events).contains("tool_use block 0 without an id"),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, StreamEvent::BlockStart { .. })),
        "no call goes out: {events:?}"
    );
}

//! Decoding a Bedrock Converse request body into the internal model: the inverse of
//! [`super::request`], so the codec can be checked by round trips (and a Converse client served).
//! Shapes follow the API reference "Converse"; a union with no member or several, a missing
//! required field, or an unknown role, format or status is refused in [`shape`]'s words.

use super::formats::{document_media_type, image_media_type};
use super::request::STUB_TOOL_NAME;
use super::types::{
    BytesSource, CachePoint, ConverseRequest, DocumentBlock, ImageBlock, OutputConfig,
    ToolResultBlock, WireToolChoice,
};
use crate::ir::{
    ApiError, CacheBreakpoint, CacheSpot, Dropped, Effort, ImageSource, Message, Part, Reasoning,
    ReasoningPart, Request, Role, Tool, ToolCall, ToolChoice, ToolKind, ToolResult,
};
use crate::shape::{self, ShapeError};
use serde_json::{Map, Value, json};

const WHAT: &str = "invalid Converse request body";

/// Decodes a Converse request body (`ConverseRequest` without `modelId`, which is in the URL, so
/// [`Request::model`] stays empty). Fields the internal model cannot carry are recorded in
/// [`Request::dropped`] by their Converse names (`guardrailConfig`, `video`, …); a stub tool the
/// encoder added ([`STUB_TOOL_NAME`]) is left out.
///
/// Errors: invalid JSON or a value of the wrong shape → `invalid_request_error` naming the path,
/// e.g. `messages[0].content[1]: expected exactly one of "text", "image", …, got none`.
pub fn decode_request(body: &[u8]) -> Result<Request, ApiError> {
    let w: ConverseRequest = shape::from_json(body).map_err(|e| e.into_api_error(WHAT))?;
    from_wire(w).map_err(|e| e.into_api_error(WHAT))
}

/// The one member set in a union, or an error at `path` naming its members.
fn member(members: &[(&'static str, bool)], path: String) -> Result<&'static str, ShapeError> {
    let set: Vec<&str> = members.iter().filter(|m| m.1).map(|m| m.0).collect();
    if let [one] = set.as_slice() {
        return Ok(one);
    }
    let names: Vec<String> = members.iter().map(|m| format!("\"{}\"", m.0)).collect();
    let got = if set.is_empty() {
        "none".to_owned()
    } else {
        let s: Vec<String> = set.iter().map(|m| format!("\"{m}\"")).collect();
        s.join(" and ")
    };
    Err(ShapeError {
        path,
        message: format!("expected exactly one of {}, got {got}", names.join(", ")),
    })
}

fn required<T>(v: Option<T>, path: impl FnOnce() -> String) -> Result<T, ShapeError> {
    v.ok_or_else(|| ShapeError {
        path: path(),
        message: "required, but missing".to_owned(),
    })
}

/// Records a `cachePoint` after `at`; one with nothing before it marks nothing.
fn mark(req: &mut Request, at: Option<CacheSpot>, cp: CachePoint) {
    match at {
        Some(at) => req
            .cache_breakpoints
            .push(CacheBreakpoint { at, ttl: cp.ttl }),
        None => req.dropped.add("cachePoint"),
    }
}

fn from_wire(w: ConverseRequest) -> Result<Request, ShapeError> {
    let mut req = Request::default();
    if let Some(c) = w.inference_config {
        req.max_tokens = c.max_tokens;
        req.temperature = c.temperature;
        req.top_p = c.top_p;
        req.stop = c.stop_sequences.unwrap_or_default();
    }
    for (j, b) in w.system.into_iter().enumerate() {
        let members = [
            ("text", b.text.is_some()),
            ("guardContent", b.guard_content.is_some()),
            ("cachePoint", b.cache_point.is_some()),
        ];
        member(&members, format!("system[{j}]"))?;
        if let Some(t) = b.text {
            req.system.push(t);
        } else if let Some(cp) = b.cache_point {
            let at = req.system.len().checked_sub(1).map(CacheSpot::System);
            mark(&mut req, at, cp);
        } else {
            req.dropped.add("guardContent");
        }
    }
    for (i, m) in w.messages.into_iter().enumerate() {
        let role_path = || format!("messages[{i}].role");
        let role = match required(m.role, role_path)?.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(ShapeError::unknown_name(
                    role_path(),
                    other,
                    &["user", "assistant"],
                ));
            }
        };
        let mut content = Vec::with_capacity(m.content.len());
        for (j, b) in m.content.into_iter().enumerate() {
            let path = || format!("messages[{i}].content[{j}]");
            let name = member(&b.members(), path())?;
            if let Some(t) = b.text {
                content.push(Part::Text(t));
            } else if let Some(img) = b.image {
                let p = image(img, &format!("{}.image", path()), &mut req.dropped)?;
                content.extend(p.map(Part::Image));
            } else if let Some(d) = b.document {
                let p = document(d, &format!("{}.document", path()), &mut req.dropped)?;
                content.extend(p);
            } else if let Some(u) = b.tool_use {
                content.push(Part::ToolCall(ToolCall {
                    id: required(u.tool_use_id, || format!("{}.toolUse.toolUseId", path()))?,
                    name: required(u.name, || format!("{}.toolUse.name", path()))?,
                    arguments: required(u.input, || format!("{}.toolUse.input", path()))?
                        .get()
                        .to_owned(),
                    kind: ToolKind::Function,
                }));
            } else if let Some(r) = b.tool_result {
                let p = tool_result(r, &format!("{}.toolResult", path()), &mut req.dropped)?;
                content.push(p);
            } else if let Some(r) = b.reasoning_content {
                let members = [
                    ("reasoningText", r.reasoning_text.is_some()),
                    ("redactedContent", r.redacted_content.is_some()),
                ];
                member(&members, format!("{}.reasoningContent", path()))?;
                let part = match (r.reasoning_text, r.redacted_content) {
                    (Some(t), _) => ReasoningPart {
                        text: t.text,
                        signature: t.signature,
                        ..ReasoningPart::default()
                    },
                    (None, redacted) => ReasoningPart {
                        redacted,
                        ..ReasoningPart::default()
                    },
                };
                content.push(Part::Reasoning(part));
            } else if let Some(cp) = b.cache_point {
                let at = content
                    .len()
                    .checked_sub(1)
                    .map(|part| CacheSpot::Part { message: i, part });
                mark(&mut req, at, cp);
            } else {
                // video, audio, guardContent, citationsContent, searchResult
                req.dropped.add(name);
            }
        }
        req.messages.push(Message { role, content });
    }
    if let Some(tc) = w.tool_config {
        for (k, t) in tc.tools.into_iter().enumerate() {
            let path = || format!("toolConfig.tools[{k}]");
            let members = [
                ("toolSpec", t.tool_spec.is_some()),
                ("systemTool", t.system_tool.is_some()),
                ("cachePoint", t.cache_point.is_some()),
            ];
            member(&members, path())?;
            if let Some(spec) = t.tool_spec {
                if spec.name == STUB_TOOL_NAME {
                    continue;
                }
                let schema = required(spec.input_schema.json, || {
                    format!("{}.toolSpec.inputSchema.json", path())
                })?;
                req.tools.push(Tool {
                    name: spec.name,
                    description: spec.description,
                    parameters: Some(schema),
                    kind: ToolKind::Function,
                    format: None,
                    strict: spec.strict,
                });
            } else if let Some(cp) = t.cache_point {
                let at = req.tools.len().checked_sub(1).map(CacheSpot::Tool);
                mark(&mut req, at, cp);
            } else {
                req.dropped.add("systemTool");
            }
        }
        if let Some(c) = tc.tool_choice {
            req.tool_choice = Some(tool_choice(c)?);
        }
    }
    if let Some(fields) = w.additional_model_request_fields {
        additional_fields(fields, &mut req)?;
    }
    if let Some(oc) = w.output_config {
        req.response_format = output_format(oc)?;
    }
    for (name, present) in [
        (
            "additionalModelResponseFieldPaths",
            w.additional_model_response_field_paths.is_some(),
        ),
        ("guardrailConfig", w.guardrail_config.is_some()),
        ("promptVariables", w.prompt_variables.is_some()),
        ("requestMetadata", w.request_metadata.is_some()),
        ("performanceConfig", w.performance_config.is_some()),
        ("serviceTier", w.service_tier.is_some()),
    ] {
        if present {
            req.dropped.add(name);
        }
    }
    Ok(req)
}

fn tool_choice(c: WireToolChoice) -> Result<ToolChoice, ShapeError> {
    let members = [
        ("auto", c.auto.is_some()),
        ("any", c.any.is_some()),
        ("tool", c.tool.is_some()),
    ];
    member(&members, "toolConfig.toolChoice".to_owned())?;
    Ok(match c.tool {
        Some(t) => ToolChoice::Tool(t.name),
        None if c.any.is_some() => ToolChoice::Required,
        None => ToolChoice::Auto,
    })
}

/// `additionalModelRequestFields`: Anthropic's `top_k` and `thinking` are carried; other
/// model-specific fields are dropped by name.
fn additional_fields(fields: Map<String, Value>, req: &mut Request) -> Result<(), ShapeError> {
    for (k, v) in fields {
        match k.as_str() {
            "top_k" => {
                let k = v.as_u64().and_then(|n| u32::try_from(n).ok());
                req.top_k = Some(required(k, || {
                    "additionalModelRequestFields.top_k (a whole number)".to_owned()
                })?);
            }
            "thinking" => {
                let budget = v
                    .get("budget_tokens")
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok());
                req.reasoning = Some(match v.get("type").and_then(Value::as_str) {
                    Some("disabled") => Reasoning::Disabled,
                    _ => Reasoning::Enabled {
                        budget_tokens: budget,
                        effort: budget.map(Effort::from_budget),
                    },
                });
            }
            other => req
                .dropped
                .add(&format!("additionalModelRequestFields.{other}")),
        }
    }
    Ok(())
}

/// `outputConfig.textFormat` as Chat's `response_format` (the internal form).
fn output_format(oc: OutputConfig) -> Result<Option<Value>, ShapeError> {
    let Some(def) = oc
        .text_format
        .filter(|f| f.kind.as_deref().is_none_or(|k| k == "json_schema"))
        .and_then(|f| f.structure)
        .and_then(|s| s.json_schema)
    else {
        return Ok(None);
    };
    let schema: Value = serde_json::from_str(&def.schema).map_err(|_| ShapeError {
        path: "outputConfig.textFormat.structure.jsonSchema.schema".to_owned(),
        message: "expected a JSON Schema written as a JSON string".to_owned(),
    })?;
    let name = def.name.unwrap_or_else(|| "output".to_owned());
    Ok(Some(json!({
        "type": "json_schema",
        "json_schema": {"name": name, "schema": schema, "strict": true},
    })))
}

fn image(
    img: ImageBlock,
    path: &str,
    dropped: &mut Dropped,
) -> Result<Option<ImageSource>, ShapeError> {
    let format = required(img.format, || format!("{path}.format"))?;
    let Some(media_type) = image_media_type(&format) else {
        let known = ["png", "jpeg", "gif", "webp"];
        return Err(ShapeError::unknown_name(
            format!("{path}.format"),
            &format,
            &known,
        ));
    };
    let source = required(img.source, || format!("{path}.source"))?;
    Ok(
        bytes_or_drop(source, "image.source", dropped).map(|data| ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data,
        }),
    )
}

fn document(
    d: DocumentBlock,
    path: &str,
    dropped: &mut Dropped,
) -> Result<Option<Part>, ShapeError> {
    // `format` defaults to `txt` (`DocumentBlock` in the Smithy model).
    let format = d.format.unwrap_or_else(|| "txt".to_owned());
    let Some(media_type) = document_media_type(&format) else {
        let known = [
            "pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md",
        ];
        return Err(ShapeError::unknown_name(
            format!("{path}.format"),
            &format,
            &known,
        ));
    };
    let mut source = required(d.source, || format!("{path}.source"))?;
    if let Some(text) = source.text.take() {
        return Ok(Some(Part::Text(text)));
    }
    Ok(
        bytes_or_drop(source, "document.source", dropped).map(|data| Part::File {
            media_type: media_type.to_owned(),
            data,
            name: d.name,
        }),
    )
}

/// A source's base64 `bytes`; an S3 location (or a document's content blocks) is dropped.
fn bytes_or_drop(s: BytesSource, what: &str, dropped: &mut Dropped) -> Option<String> {
    if s.bytes.is_none() {
        dropped.add(what);
    }
    s.bytes
}

fn tool_result(r: ToolResultBlock, path: &str, dropped: &mut Dropped) -> Result<Part, ShapeError> {
    let call_id = required(r.tool_use_id, || format!("{path}.toolUseId"))?;
    let is_error = match r.status.as_deref() {
        None | Some("success") => false,
        Some("error") => true,
        Some(other) => {
            let p = format!("{path}.status");
            return Err(ShapeError::unknown_name(p, other, &["success", "error"]));
        }
    };
    let mut content = Vec::with_capacity(r.content.len());
    for (k, c) in r.content.into_iter().enumerate() {
        let at = format!("{path}.content[{k}]");
        let members = [
            ("json", c.json.is_some()),
            ("text", c.text.is_some()),
            ("image", c.image.is_some()),
            ("document", c.document.is_some()),
            ("video", c.video.is_some()),
            ("searchResult", c.search_result.is_some()),
        ];
        let name = member(&members, at.clone())?;
        if let Some(j) = c.json {
            content.push(Part::Text(j.get().to_owned()));
        } else if let Some(t) = c.text {
            content.push(Part::Text(t));
        } else if let Some(img) = c.image {
            content.extend(image(img, &format!("{at}.image"), dropped)?.map(Part::Image));
        } else if let Some(d) = c.document {
            content.extend(document(d, &format!("{at}.document"), dropped)?);
        } else {
            dropped.add(name);
        }
    }
    Ok(Part::ToolResult(ToolResult {
        call_id,
        content,
        is_error,
        kind: ToolKind::Function,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        decode_request(body.as_bytes()).unwrap_err().message
    }

    #[test]
    fn unions_need_exactly_one_member() {
        assert_eq!(
            err(r#"{"messages":[{"role":"user","content":[{}]}]}"#),
            "invalid Converse request body: messages[0].content[0]: expected exactly one of \
             \"text\", \"image\", \"document\", \"toolUse\", \"toolResult\", \
             \"reasoningContent\", \"cachePoint\", \"video\", \"audio\", \"guardContent\", \
             \"citationsContent\", \"searchResult\", got none"
        );
        assert!(
            err(r#"{"messages":[{"role":"user","content":[{"text":"a","cachePoint":{"type":"default"}}]}]}"#)
                .ends_with("got \"text\" and \"cachePoint\"")
        );
        assert!(
            err(r#"{"toolConfig":{"tools":[{"toolSpec":{"name":"a","inputSchema":{"json":{}}}}],"toolChoice":{}}}"#)
                .contains("toolConfig.toolChoice: expected exactly one of \"auto\", \"any\", \"tool\"")
        );
    }

    #[test]
    fn bad_shapes_are_worded_for_users() {
        assert_eq!(
            err(r#"{"messages":[{"role":"system","content":[{"text":"a"}]}]}"#),
            "invalid Converse request body: messages[0].role: expected one of \"user\", \
             \"assistant\", got \"system\""
        );
        assert_eq!(
            err(r#"{"messages":[{"role":"user"}]}"#),
            "invalid Converse request body: messages[0].content: required, but missing"
        );
        assert!(err(r#"{"messages":"hi"}"#).contains("messages: expected an array"));
        assert!(
            err(r#"{"messages":[{"role":"user","content":[{"image":{"format":"bmp","source":{"bytes":"AA=="}}}]}]}"#)
                .contains("messages[0].content[0].image.format: expected one of \"png\"")
        );
        assert!(
            err(r#"{"messages":[{"role":"assistant","content":[{"toolUse":{"name":"a","input":{}}}]}]}"#)
                .contains("messages[0].content[0].toolUse.toolUseId: required, but missing")
        );
        assert!(
            err(r#"{"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[],"status":"failed"}}]}]}"#)
                .contains("toolResult.status: expected one of \"success\", \"error\", got \"failed\"")
        );
        assert!(
            err(r#"{"inferenceConfig":{"maxTokens":"many"}}"#)
                .contains("inferenceConfig.maxTokens: expected a whole number")
        );
    }

    #[test]
    fn everything_carried_is_read() {
        let body = r#"{
          "system":[{"text":"S"},{"cachePoint":{"type":"default","ttl":"1h"}},{"guardContent":{}}],
          "messages":[
            {"role":"user","content":[{"text":"hi"},{"cachePoint":{"type":"default"}},
              {"image":{"format":"jpeg","source":{"bytes":"/9j/"}}},
              {"document":{"format":"pdf","name":"spec","source":{"bytes":"JVBE"}}},
              {"video":{}}]},
            {"role":"assistant","content":[
              {"reasoningContent":{"reasoningText":{"text":"t","signature":"sig"}}},
              {"reasoningContent":{"redactedContent":"cmVk"}},
              {"toolUse":{"toolUseId":"tu1","name":"f","input":{"a":1}}}]},
            {"role":"user","content":[{"toolResult":{"toolUseId":"tu1","status":"error",
              "content":[{"json":{"x":[1]}},{"text":"t"}]}}]}],
          "inferenceConfig":{"maxTokens":100,"temperature":0.5,"topP":0.9,"stopSequences":["X"]},
          "toolConfig":{"tools":[{"toolSpec":{"name":"f","description":"d","inputSchema":{"json":{"type":"object"}}}},
            {"cachePoint":{"type":"default"}},
            {"toolSpec":{"name":"agent_shim_no_tools","inputSchema":{"json":{}}}}],
            "toolChoice":{"any":{}}},
          "additionalModelRequestFields":{"top_k":5,"thinking":{"type":"enabled","budget_tokens":2048},"foo":1},
          "guardrailConfig":{}
        }"#;
        let r = decode_request(body.as_bytes()).unwrap();
        assert_eq!(r.system, ["S"]);
        assert_eq!(
            r.cache_breakpoints,
            [
                CacheBreakpoint {
                    at: CacheSpot::System(0),
                    ttl: Some("1h".into())
                },
                CacheBreakpoint {
                    at: CacheSpot::Part {
                        message: 0,
                        part: 0
                    },
                    ttl: None
                },
                CacheBreakpoint {
                    at: CacheSpot::Tool(0),
                    ttl: None
                },
            ]
        );
        assert!(matches!(&r.messages[0].content[1],
            Part::Image(ImageSource::Base64 { media_type, data }) if media_type == "image/jpeg" && data == "/9j/"));
        assert!(matches!(&r.messages[0].content[2],
            Part::File { media_type, name: Some(n), .. } if media_type == "application/pdf" && n == "spec"));
        assert_eq!(r.messages[0].content.len(), 3);
        assert!(matches!(&r.messages[1].content[0],
            Part::Reasoning(p) if p.text == "t" && p.signature.as_deref() == Some("sig")));
        assert!(matches!(&r.messages[1].content[1],
            Part::Reasoning(p) if p.redacted.as_deref() == Some("cmVk")));
        assert!(matches!(&r.messages[1].content[2],
            Part::ToolCall(c) if c.id == "tu1" && c.arguments == r#"{"a":1}"#));
        let Part::ToolResult(res) = &r.messages[2].content[0] else {
            panic!("a tool result")
        };
        assert!(res.is_error);
        assert_eq!(res.text(), "{\"x\":[1]}\nt");
        assert_eq!(
            (r.max_tokens, r.temperature, r.top_p),
            (Some(100), Some(0.5), Some(0.9))
        );
        assert_eq!(r.stop, ["X"]);
        assert_eq!(
            r.tools.len(),
            1,
            "the stub tool is not a tool of the client's"
        );
        assert_eq!(r.tool_choice, Some(ToolChoice::Required));
        assert_eq!(r.top_k, Some(5));
        assert_eq!(
            r.reasoning,
            Some(Reasoning::Enabled {
                budget_tokens: Some(2048),
                effort: Some(Effort::Medium)
            })
        );
        let d: Vec<&str> = r.dropped.iter().collect();
        assert_eq!(
            d,
            [
                "guardContent",
                "video",
                "additionalModelRequestFields.foo",
                "guardrailConfig"
            ]
        );
        assert!(r.model.is_empty());
    }
}

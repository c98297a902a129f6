//! Identifiers and formats in the shapes Bedrock Converse accepts: media types to `ImageFormat`
//! and `DocumentFormat` and back, `ToolUseId`s, document names (the `bedrock-runtime` Smithy
//! model: `ImageFormat`, `DocumentFormat`, `ToolUseId`, `DocumentBlock.name`).

use std::borrow::Cow;

/// Image media types and their `ImageFormat`s.
const IMAGE_FORMATS: &[(&str, &str)] = &[
    ("image/png", "png"),
    ("image/jpeg", "jpeg"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
];

/// Document media types and their `DocumentFormat`s.
const DOCUMENT_FORMATS: &[(&str, &str)] = &[
    ("application/pdf", "pdf"),
    ("text/csv", "csv"),
    ("application/msword", "doc"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    ("application/vnd.ms-excel", "xls"),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    ("text/html", "html"),
    ("text/plain", "txt"),
    ("text/markdown", "md"),
];

/// The image `format` for a media type (`image/jpg` counts as `image/jpeg`).
pub fn image_format(media_type: &str) -> Option<&'static str> {
    let m = media_type.trim().to_ascii_lowercase();
    let m = if m == "image/jpg" { "image/jpeg" } else { &m };
    IMAGE_FORMATS.iter().find(|(t, _)| *t == m).map(|(_, f)| *f)
}

/// The media type of an image `format`.
pub fn image_media_type(format: &str) -> Option<&'static str> {
    IMAGE_FORMATS
        .iter()
        .find(|(_, f)| *f == format)
        .map(|(t, _)| *t)
}

/// The document `format` for a media type.
pub fn document_format(media_type: &str) -> Option<&'static str> {
    let m = media_type.trim().to_ascii_lowercase();
    DOCUMENT_FORMATS
        .iter()
        .find(|(t, _)| *t == m)
        .map(|(_, f)| *f)
}

/// The media type of a document `format`.
pub fn document_media_type(format: &str) -> Option<&'static str> {
    DOCUMENT_FORMATS
        .iter()
        .find(|(_, f)| *f == format)
        .map(|(t, _)| *t)
}

/// `toolUseId` for an id of the history: kept when it matches Bedrock's `ToolUseId`
/// (`[a-zA-Z0-9_.:-]{1,64}`); otherwise every other character becomes `_`, and an empty or long
/// id is cut to 55 characters plus `_` and 8 hex digits of its SHA-256, so a call and its result
/// still match.
pub fn tool_use_id(id: &str) -> Cow<'_, str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    if (1..=64).contains(&id.len()) && id.chars().all(allowed) {
        return Cow::Borrowed(id);
    }
    let clean: String = id
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    if (1..=64).contains(&clean.len()) {
        return Cow::Owned(clean);
    }
    let head: String = clean.chars().take(55).collect();
    Cow::Owned(format!("{head}_{}", crate::target::hash_hex8(id)))
}

/// A document `name` Bedrock accepts (letters, digits, single spaces, hyphens, parentheses,
/// square brackets; at most 200 characters), numbered when another document of the request
/// already has it.
pub fn document_name(name: Option<&str>, taken: &[String]) -> String {
    let mut out = String::new();
    for c in name.unwrap_or("").chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '(' | ')' | '[' | ']') {
            c
        } else {
            ' '
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
        if out.len() >= 180 {
            break;
        }
    }
    let base = out.trim_end();
    let base = if base.is_empty() { "document" } else { base };
    let mut name = base.to_owned();
    let mut n = 1;
    while taken.contains(&name) {
        n += 1;
        name = format!("{base} ({n})");
    }
    name
}

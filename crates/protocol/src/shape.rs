//! Errors about the shape of a value, in a user's words: where (the field path, e.g.
//! `messages[0].content`) and what (`expected a whole number, got the string "16384"`), never
//! serde's Rust vocabulary (`invalid type: string "16384", expected u32`).
//!
//! One mechanism serves every decoder of user input: the three request decoders use
//! [`from_json`]; the configuration loader (serde-saphyr, which words its own errors the same
//! serde way) uses [`ShapeError::new`] with [`Dialect::Yaml`]. The translation reads serde's
//! standard messages (`serde::de::Error`'s `invalid_type`, `invalid_value`, `invalid_length`,
//! `unknown_variant`, `unknown_field`, `missing_field`, `duplicate_field`); any other message
//! (a decoder's own words) is kept as it is.

use crate::ir::ApiError;
use serde::Deserialize;
use std::fmt;

/// The document language an error is told in: it names the containers (`an array` and `an
/// object` in JSON, `a list` and `a mapping` in YAML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Json,
    Yaml,
}

/// A value of the wrong shape: the path of the field at fault (empty for the whole document)
/// and what was wrong with it. Displays as `path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// Dotted path with indexes, e.g. `messages[0].content[1].type`.
    pub path: String,
    /// What was expected and what was found, e.g. `expected an array, got the string "hi"`.
    pub message: String,
}

impl ShapeError {
    /// Builds the error from a deserializer's message about the value at `path` (as
    /// `serde_path_to_error` prints it; `.` is the root). `got` describes the value found when
    /// the message does not say (serde-saphyr's `invalid u32`).
    pub fn new(path: &str, message: &str, dialect: Dialect, got: Option<&str>) -> ShapeError {
        let mut path = if path == "." {
            String::new()
        } else {
            path.to_owned()
        };
        let (child, message) = translate(message, dialect, got);
        if let Some(key) = child {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&key);
        }
        ShapeError { path, message }
    }

    /// `expected one of "a", "b", got "x"` for a name (a `type`, a role) that is none of `known`.
    pub fn unknown_name(path: String, got: &str, known: &[&str]) -> ShapeError {
        ShapeError {
            path,
            message: format!("expected {}, got {}", quoted_list(known), quoted(got)),
        }
    }

    /// `Ok` when `got` is one of `known`, else [`ShapeError::unknown_name`] at `path()`.
    pub fn check_name(
        got: &str,
        known: &[&str],
        path: impl FnOnce() -> String,
    ) -> Result<(), ShapeError> {
        if known.contains(&got) {
            Ok(())
        } else {
            Err(ShapeError::unknown_name(path(), got, known))
        }
    }

    /// An `invalid_request_error` saying `{what}: {self}`.
    pub fn into_api_error(self, what: &str) -> ApiError {
        ApiError::invalid_request(format!("{what}: {self}"))
    }
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ShapeError {}

/// Decodes `body` as `T`. On failure it decodes once more, tracking the path (so the common,
/// valid case pays nothing for it), and says what was wrong where.
pub fn from_json<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, ShapeError> {
    let first = match serde_json::from_slice(body) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let (path, e) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(e) => (e.path().to_string(), e.into_inner()),
        Ok(_) => (String::new(), first),
    };
    Err(ShapeError::new(
        &path,
        &json_message(&e),
        Dialect::Json,
        None,
    ))
}

/// serde_json's message without its ` at line L column C` (meaningless in a one-line body).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(suffix.as_str())
        .unwrap_or(&text)
        .to_owned()
}

/// Translates serde's `message`. Returns the key to append to the path (a missing or repeated
/// field is reported at its own path, which `serde_path_to_error` stops short of; an unknown
/// one is already the path's last segment) and the words.
fn translate(message: &str, d: Dialect, got: Option<&str>) -> (Option<String>, String) {
    if let Some((unexpected, expected)) = message
        .strip_prefix("invalid type: ")
        .and_then(split_unexpected)
    {
        return (None, mismatch(expected, &found(unexpected, d), d, false));
    }
    if let Some((unexpected, expected)) = message
        .strip_prefix("invalid value: ")
        .and_then(split_unexpected)
    {
        return (None, mismatch(expected, &found(unexpected, d), d, true));
    }
    if let Some((len, expected)) = message
        .strip_prefix("invalid length ")
        .and_then(|r| r.split_once(", expected "))
    {
        let items = if len == "1" { "item" } else { "items" };
        let expected = expected_words(expected, d);
        return (None, format!("expected {expected}, got {len} {items}"));
    }
    if let Some((variant, expected)) = message
        .strip_prefix("unknown variant `")
        .and_then(|r| r.split_once("`, expected "))
    {
        let names = one_of(expected.strip_prefix("one of ").unwrap_or(expected));
        return (None, format!("expected {names}, got {}", quoted(variant)));
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((_, expected)) = rest.split_once("`, expected ") {
            let known = expected.strip_prefix("one of ").unwrap_or(expected);
            return (
                None,
                format!(
                    "not a known key; the keys here are {}",
                    known.replace('`', "")
                ),
            );
        }
        return (None, "not a known key".to_owned());
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return (Some(field.to_owned()), "required, but missing".to_owned());
    }
    if let Some(field) = message
        .strip_prefix("duplicate field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return (Some(field.to_owned()), "given more than once".to_owned());
    }
    // serde-saphyr's own wordings: `invalid u32` (a scalar that does not parse as the type) and
    // `expected sequence start` (a container of the wrong kind).
    if let Some(ty) = message.strip_prefix("invalid ")
        && is_type_name(ty)
    {
        let got = got.unwrap_or("something else");
        let ranged = got.parse::<f64>().is_ok();
        return (None, mismatch(ty, got, d, ranged));
    }
    if let Some(what) = message.strip_prefix("expected ")
        && let Some(got) = got
    {
        return (
            None,
            format!("expected {}, got {got}", expected_words(what, d)),
        );
    }
    (None, message.to_owned())
}

/// `expected E, got G`; `ranged` (the value had the right type but was out of range) adds the
/// range of an integer type.
fn mismatch(expected: &str, got: &str, d: Dialect, ranged: bool) -> String {
    let words = match (ranged, integer_range(expected)) {
        (true, Some((min, max))) => format!("a whole number from {min} to {max}"),
        _ => expected_words(expected, d),
    };
    format!("expected {words}, got {got}")
}

/// Splits `U, expected E` where U may be a quoted string holding `, expected ` itself.
fn split_unexpected(rest: &str) -> Option<(&str, &str)> {
    if let Some(s) = rest.strip_prefix("string \"") {
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => {
                    let end = "string \"".len() + i + 1;
                    return rest[end..]
                        .strip_prefix(", expected ")
                        .map(|e| (&rest[..end], e));
                }
                _ => i += 1,
            }
        }
        return None;
    }
    rest.split_once(", expected ")
}

/// serde's description of the value found (`serde::de::Unexpected`'s wording) in user words.
fn found(unexpected: &str, d: Dialect) -> String {
    if let Some(s) = unexpected.strip_prefix("string ") {
        return format!("the string {}", shorten(s));
    }
    for prefix in ["integer `", "floating point `"] {
        if let Some(n) = unexpected
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix('`'))
        {
            return format!("the number {n}");
        }
    }
    if let Some(b) = unexpected
        .strip_prefix("boolean `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return b.to_owned();
    }
    match unexpected {
        "null" | "unit value" | "Option value" => "null".to_owned(),
        "map" => container(d, false).to_owned(),
        "sequence" => container(d, true).to_owned(),
        other => other.replace('`', ""),
    }
}

/// `an array`/`a list` (`seq`) or `an object`/`a mapping`.
fn container(d: Dialect, seq: bool) -> &'static str {
    match (d, seq) {
        (Dialect::Json, true) => "an array",
        (Dialect::Json, false) => "an object",
        (Dialect::Yaml, true) => "a list",
        (Dialect::Yaml, false) => "a mapping",
    }
}

/// What serde (or serde-saphyr) said it expected, in user words.
fn expected_words(expected: &str, d: Dialect) -> String {
    let e = expected.trim();
    if integer_range(e).is_some() || e == "integer" {
        return "a whole number".to_owned();
    }
    match e {
        "f32" | "f64" | "floating point" | "a number" => "a number".to_owned(),
        "a string" | "string scalar" | "a borrowed string" | "string" | "a character" | "char" => {
            "a string".to_owned()
        }
        "a boolean" | "bool" | "boolean" => "true or false".to_owned(),
        "a sequence" | "sequence start" | "sequence" | "a list" | "an array" => {
            container(d, true).to_owned()
        }
        "a map" | "mapping start" | "map" | "a JSON object" | "an object" | "a mapping" => {
            container(d, false).to_owned()
        }
        "any valid JSON value" => "any value".to_owned(),
        "a string or an array" => format!("a string or {}", container(d, true)),
        _ if e.starts_with("struct ") => container(d, false).to_owned(),
        _ if e.starts_with("a sequence") || e.starts_with("tuple") => container(d, true).to_owned(),
        _ if e.starts_with("one of ") || e.starts_with('`') => one_of(e),
        other => other.replace('`', ""),
    }
}

/// The range of a Rust integer type name.
fn integer_range(ty: &str) -> Option<(i128, u128)> {
    Some(match ty {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX as u128),
        "i16" => (i16::MIN.into(), i16::MAX as u128),
        "i32" => (i32::MIN.into(), i32::MAX as u128),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX as u128),
        _ => return None,
    })
}

/// A Rust scalar type name, as serde-saphyr's `invalid {ty}` uses them.
fn is_type_name(ty: &str) -> bool {
    integer_range(ty).is_some()
        || matches!(
            ty,
            "f32" | "f64" | "floating point" | "bool" | "boolean" | "char" | "string"
        )
}

/// serde's list of names (`` `a` or `b` ``, `` one of `a`, `b` ``, serde-saphyr's `a, b`) as
/// `one of "a", "b"`.
fn one_of(names: &str) -> String {
    let list: Vec<&str> = names
        .split(", ")
        .flat_map(|p| p.split(" or "))
        .map(|n| n.trim().trim_matches('`'))
        .filter(|n| !n.is_empty())
        .collect();
    quoted_list(&list)
}

fn quoted_list(names: &[&str]) -> String {
    match names {
        [one] => quoted(one),
        _ => format!(
            "one of {}",
            names
                .iter()
                .map(|n| quoted(n))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn quoted(s: &str) -> String {
    shorten(&format!("{s:?}"))
}

/// A quoted value cut to a readable length (a client may send megabytes in a wrong field).
fn shorten(quoted: &str) -> String {
    const MAX: usize = 60;
    if quoted.chars().count() <= MAX {
        return quoted.to_owned();
    }
    let head: String = quoted.chars().take(MAX - 2).collect();
    format!("{head}…\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Req {
        model: String,
        max_tokens: Option<u32>,
        messages: Option<Vec<Msg>>,
        stream: Option<bool>,
        temperature: Option<f64>,
        mode: Option<Mode>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Msg {
        role: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
        Slow,
    }

    fn err(json: &str) -> String {
        from_json::<Req>(json.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn json_errors_name_the_field_and_say_what_was_expected() {
        let cases = [
            (
                r#"{"model":"m","max_tokens":"16384"}"#,
                r#"max_tokens: expected a whole number, got the string "16384""#,
            ),
            (
                r#"{"model":"m","max_tokens":-1}"#,
                "max_tokens: expected a whole number from 0 to 4294967295, got the number -1",
            ),
            (
                r#"{"model":"m","max_tokens":1.5}"#,
                "max_tokens: expected a whole number, got the number 1.5",
            ),
            (
                r#"{"model":"m","messages":"hi"}"#,
                r#"messages: expected an array, got the string "hi""#,
            ),
            (
                r#"{"model":"m","messages":[{"role":"user"},{"role":3}]}"#,
                "messages[1].role: expected a string, got the number 3",
            ),
            (
                r#"{"model":"m","messages":[{}]}"#,
                "messages[0].role: required, but missing",
            ),
            (r#"{"max_tokens":1}"#, "model: required, but missing"),
            (
                r#"{"model":"m","stream":"true"}"#,
                r#"stream: expected true or false, got the string "true""#,
            ),
            (
                r#"{"model":"m","temperature":{}}"#,
                "temperature: expected a number, got an object",
            ),
            (r#"{"model":null}"#, "model: expected a string, got null"),
            (
                r#"{"model":"m","mode":"medium"}"#,
                r#"mode: expected one of "fast", "slow", got "medium""#,
            ),
            (
                r#"{"model":"m","messages":{"role":"user"}}"#,
                "messages: expected an array, got an object",
            ),
            ("3", "expected an object, got the number 3"),
        ];
        for (json, want) in cases {
            assert_eq!(err(json), want, "{json}");
        }
    }

    #[test]
    fn long_and_tricky_strings_are_quoted_and_cut() {
        let e = err(r#"{"model":"m","max_tokens":"a, expected b \" x"}"#);
        assert_eq!(
            e,
            r#"max_tokens: expected a whole number, got the string "a, expected b \" x""#
        );
        let long = "y".repeat(500);
        let e = err(&format!(r#"{{"model":"m","max_tokens":"{long}"}}"#));
        assert!(e.ends_with("yyy…\"") && e.len() < 140, "{e}");
    }

    #[test]
    fn yaml_wordings_and_given_values() {
        let e = ShapeError::new(
            "models[0].max_tokens",
            "invalid u32",
            Dialect::Yaml,
            Some(r#"the string "many""#),
        );
        assert_eq!(
            e.to_string(),
            r#"models[0].max_tokens: expected a whole number, got the string "many""#
        );
        let e = ShapeError::new("port", "invalid u16", Dialect::Yaml, Some("70000"));
        assert_eq!(
            e.to_string(),
            "port: expected a whole number from 0 to 65535, got 70000"
        );
        let e = ShapeError::new(
            "models",
            "expected sequence start",
            Dialect::Yaml,
            Some("a mapping"),
        );
        assert_eq!(e.to_string(), "models: expected a list, got a mapping");
        let e = ShapeError::new(
            "prot",
            "unknown field `prot`, expected one of port, host",
            Dialect::Yaml,
            None,
        );
        assert_eq!(
            e.to_string(),
            "prot: not a known key; the keys here are port, host"
        );
        let e = ShapeError::new(
            "prot",
            "unknown field `prot`, expected `port` or `host`",
            Dialect::Yaml,
            None,
        );
        assert_eq!(
            e.to_string(),
            "prot: not a known key; the keys here are port or host"
        );
        let e = ShapeError::new(
            "a",
            "unknown variant `gamma`, expected one of alpha, beta",
            Dialect::Yaml,
            None,
        );
        assert_eq!(
            e.to_string(),
            r#"a: expected one of "alpha", "beta", got "gamma""#
        );
        let e = ShapeError::new("a", "something custom", Dialect::Yaml, None);
        assert_eq!(e.to_string(), "a: something custom");
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let e = ShapeError::unknown_name(
            "messages[0].content[1].type".into(),
            "txt",
            &["text", "image"],
        );
        assert_eq!(
            e.into_api_error("invalid Messages request body").message,
            r#"invalid Messages request body: messages[0].content[1].type: expected one of "text", "image", got "txt""#
        );
    }
}

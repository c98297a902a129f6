//! Tool-parameter JSON Schemas cut down to what an upstream accepts.
//!
//! Gemini's OpenAI endpoint takes an OpenAPI-3 subset and rejects `$schema`,
//! `additionalProperties`, `exclusiveMinimum`, `propertyNames`, `const`, … (theopenco/llmgateway#1763,
//! 1rgs/claude-code-proxy#88). The allowed keywords follow claude-code-router's Gemini list.

use crate::target::SchemaDialect;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Keywords Gemini accepts in a schema object.
const GEMINI_KEYWORDS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "minItems",
    "maxItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// `schema` as the dialect accepts it; borrowed when nothing had to change.
pub fn clean_schema(schema: &RawValue, dialect: SchemaDialect) -> Cow<'_, RawValue> {
    let needs = match dialect {
        SchemaDialect::Full => false,
        SchemaDialect::NoSchemaKeyword => schema.get().contains("\"$schema\""),
        SchemaDialect::Gemini => true,
    };
    if !needs {
        return Cow::Borrowed(schema);
    }
    let Ok(mut v) = serde_json::from_str::<Value>(schema.get()) else {
        return Cow::Borrowed(schema);
    };
    match dialect {
        SchemaDialect::NoSchemaKeyword => strip_keyword(&mut v, "$schema"),
        SchemaDialect::Gemini => gemini(&mut v),
        SchemaDialect::Full => {}
    }
    Cow::Owned(crate::wire::raw_value(&v))
}

fn strip_keyword(v: &mut Value, key: &str) {
    match v {
        Value::Object(m) => {
            m.shift_remove(key);
            m.values_mut().for_each(|c| strip_keyword(c, key));
        }
        Value::Array(a) => a.iter_mut().for_each(|c| strip_keyword(c, key)),
        _ => {}
    }
}

/// Rewrites one schema object (and its children) to Gemini's subset.
fn gemini(v: &mut Value) {
    let Value::Object(m) = v else { return };
    // `const: x` is `enum: [x]`; `type: [t, "null"]` is `type: t, nullable: true`.
    if let Some(c) = m.shift_remove("const") {
        m.entry("enum").or_insert_with(|| Value::Array(vec![c]));
    }
    if let Some(Value::Array(types)) = m.get("type").cloned() {
        let non_null: Vec<&Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .collect();
        if non_null.len() < types.len() {
            m.insert("nullable".into(), Value::Bool(true));
        }
        if let Some(first) = non_null.first() {
            m.insert("type".into(), (*first).clone());
        }
    }
    let is_string = m.get("type").and_then(Value::as_str) == Some("string");
    m.retain(|k, _| GEMINI_KEYWORDS.contains(&k.as_str()));
    // Gemini accepts `format` only as `enum` or `date-time` on strings, and `enum` only on strings.
    if let Some(f) = m.get("format").and_then(Value::as_str)
        && !(is_string && (f == "enum" || f == "date-time"))
    {
        m.shift_remove("format");
    }
    if !is_string && m.contains_key("enum") && m.contains_key("type") {
        m.shift_remove("enum");
    }
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        props.values_mut().for_each(gemini);
    }
    if let Some(items) = m.get_mut("items") {
        gemini(items);
    }
    if let Some(Value::Array(any)) = m.get_mut("anyOf") {
        any.iter_mut().for_each(gemini);
    }
    // `required` may only name existing properties.
    let props: Option<Vec<String>> = m
        .get("properties")
        .and_then(Value::as_object)
        .map(|p: &Map<String, Value>| p.keys().cloned().collect());
    if let (Some(props), Some(Value::Array(req))) = (props, m.get_mut("required")) {
        req.retain(|r| r.as_str().is_some_and(|r| props.iter().any(|p| p == r)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn full_dialect_borrows() {
        let r = raw(r#"{"$schema":"x","type":"object"}"#);
        assert!(matches!(
            clean_schema(&r, SchemaDialect::Full),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn groq_loses_only_dollar_schema() {
        let r = raw(
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false}"#,
        );
        let out = clean_schema(&r, SchemaDialect::NoSchemaKeyword);
        assert_eq!(
            out.get(),
            r#"{"type":"object","additionalProperties":false}"#
        );
    }

    #[test]
    fn gemini_subset() {
        let r = raw(
            r#"{"$schema":"x","type":"object","additionalProperties":false,
               "properties":{"mode":{"const":"fast"},"n":{"type":["integer","null"],"exclusiveMinimum":0},
               "tags":{"type":"array","items":{"type":"string","format":"uri"}}},
               "required":["mode","missing"]}"#,
        );
        let v: Value = serde_json::from_str(clean_schema(&r, SchemaDialect::Gemini).get()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"object",
                "properties":{"mode":{"enum":["fast"]},"n":{"type":"integer","nullable":true},
                "tags":{"type":"array","items":{"type":"string"}}},
                "required":["mode"]})
        );
    }
}

//! Serde helpers shared by the wire types of every protocol.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt;
use std::marker::PhantomData;

/// A field that is either a plain string or an array of typed items (Anthropic `content` and
/// `system`, Chat `content`, Responses `input` and `output`). Deserialised without serde's
/// untagged-enum buffering, so items may hold [`RawValue`]s.
#[derive(Debug, Clone)]
pub enum StringOr<T> {
    String(String),
    Items(Vec<T>),
}

impl<T> Default for StringOr<T> {
    fn default() -> Self {
        StringOr::Items(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for StringOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = StringOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOr::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StringOr::String(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StringOr::Items(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(StringOr::Items(items))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Deserialises a string, a number or a JSON value into a string; `null` into `None` (providers
/// send integer ids, and objects where a JSON string is specified).
pub fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(other) => Some(other.to_string()),
    })
}

/// An OpenAI `image_url`: a string, or `{url}` (Chat's documented form; some clients send it in
/// Responses too).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ImageUrl {
    Url(String),
    Object { url: String },
}

impl ImageUrl {
    /// The URL, whichever form it came in.
    pub fn url(&self) -> &str {
        match self {
            ImageUrl::Url(u) | ImageUrl::Object { url: u } => u,
        }
    }
}

// The JSON writers below are the crate's only `expect`s. serde_json fails to serialise only a map
// with non-string keys or a `Serialize` impl that returns an error, and writing to a `Vec` cannot
// fail; the values given here are this crate's wire structs (derived impls, string-keyed maps),
// `serde_json::Value`s and `&str`s, so none of them can fail. Kept crate-private so no caller can
// hand them anything else.

/// The JSON text of a wire value this crate built ([`crate::json_writer`]: serde_json's output,
/// faster).
pub(crate) fn to_json<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    // serde_json's starting size.
    let mut out = Vec::with_capacity(128);
    write_json(&mut out, v);
    out
}

/// Appends the JSON text of a wire value this crate built (e.g. a `&str`, quoted and escaped).
#[allow(clippy::expect_used)]
pub(crate) fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    crate::json_writer::write(out, v).expect("a wire value serialises into a Vec");
}

/// A [`serde_json::Value`] as raw JSON.
#[allow(clippy::expect_used)]
pub(crate) fn raw_value(v: &serde_json::Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(v).expect("a JSON value serialises")
}

/// A JSON literal of this crate (a constant, checked by its tests) as raw JSON.
#[allow(clippy::expect_used)]
pub(crate) fn raw_literal(text: &'static str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).expect("a JSON literal of this crate is valid JSON")
}

/// Serialises a JSON value held as raw text; an empty or invalid text becomes `{}`.
pub fn raw_object(text: &str) -> Box<RawValue> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return raw_literal("{}");
    }
    match serde_json::from_str::<&RawValue>(trimmed) {
        Ok(v) if trimmed.starts_with('{') => v.to_owned(),
        // Valid JSON that is not an object, or invalid JSON: wrap it so the client still receives
        // an object (Anthropic `tool_use.input` must be one) and nothing is lost.
        _ => {
            let wrapped = serde_json::json!({ "_raw_arguments": text });
            raw_value(&wrapped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_object_keeps_objects_and_wraps_the_rest() {
        assert_eq!(raw_object(" {\"a\": 1} ").get(), "{\"a\": 1}");
        assert_eq!(raw_object("").get(), "{}");
        assert_eq!(
            raw_object("{\"a\":").get(),
            "{\"_raw_arguments\":\"{\\\"a\\\":\"}"
        );
        assert_eq!(raw_object("[1]").get(), "{\"_raw_arguments\":\"[1]\"}");
    }

    #[test]
    fn string_or_items() {
        let s: StringOr<u8> = serde_json::from_str("\"hi\"").unwrap();
        assert!(matches!(s, StringOr::String(ref x) if x == "hi"));
        let s: StringOr<u8> = serde_json::from_str("[1,2]").unwrap();
        assert!(matches!(s, StringOr::Items(ref v) if v == &[1, 2]));
        assert!(serde_json::from_str::<StringOr<u8>>("3").is_err());
    }
}

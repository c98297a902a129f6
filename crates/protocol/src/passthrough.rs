//! Same-protocol pass-through: edit top-level fields of a JSON body (rewrite `model`, drop the
//! provider's rejected parameters) while every other value keeps its exact bytes, so Anthropic
//! thinking signatures survive (router-for-me/CLIProxyAPI#2172 broke them by re-serialising).

use crate::ir::ApiError;
use crate::shape::{self, ShapeError};
use serde::de::DeserializeOwned;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The top-level fields of a JSON object, in order, values as raw JSON text.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    items: Vec<(Cow<'a, str>, Cow<'a, RawValue>)>,
}

impl<'a> Fields<'a> {
    /// Parses the top level of `body`. Errors: not a JSON object → `invalid_request_error`.
    pub fn parse(body: &'a [u8]) -> Result<Fields<'a>, ApiError> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let items = de
            .deserialize_map(FieldsVisitor)
            .and_then(|items| de.end().map(|_| items))
            .map_err(|e| {
                ApiError::invalid_request(format!("request body is not a JSON object: {e}"))
            })?;
        Ok(Fields { items })
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.items
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// The value of `key` as a `T`; `None` when it is absent or `null`. For the fields the
    /// gateway reads itself on pass-through (`model`, `stream`): the rest of the body is checked
    /// by the upstream, which speaks the same protocol.
    ///
    /// Errors: a value of another shape, at the path `key…` ([`shape`]).
    pub fn field<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ShapeError> {
        let Some(raw) = self.get(key).filter(|v| v.get() != "null") else {
            return Ok(None);
        };
        shape::from_json(raw.get().as_bytes())
            .map(Some)
            .map_err(|mut e| {
                e.path = if e.path.is_empty() || e.path.starts_with('[') {
                    format!("{key}{}", e.path)
                } else {
                    format!("{key}.{}", e.path)
                };
                e
            })
    }

    /// The value of `key` if it is a JSON string.
    pub fn get_str(&self, key: &str) -> Option<String> {
        serde_json::from_str(self.get(key)?.get()).ok()
    }

    /// The value of `key` if it is a JSON boolean.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        serde_json::from_str(self.get(key)?.get()).ok()
    }

    /// The value of `key` if it is a non-negative integer.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        serde_json::from_str(self.get(key)?.get()).ok()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`, in place when it exists, else at the end. (A [`Value`] rather than
    /// any `Serialize`: a `Value` always serialises, so this cannot fail.)
    pub fn set(&mut self, key: &str, value: &Value) {
        let raw = crate::wire::raw_value(value);
        match self.items.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = Cow::Owned(raw),
            None => self
                .items
                .push((Cow::Owned(key.to_owned()), Cow::Owned(raw))),
        }
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.items.len();
        self.items.retain(|(k, _)| k != key);
        self.items.len() != before
    }

    /// Renames `from` to `to`, keeping its position and value.
    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        match self.items.iter_mut().find(|(k, _)| k == from) {
            Some((k, _)) => {
                *k = Cow::Owned(to.to_owned());
                true
            }
            None => false,
        }
    }

    /// The object as JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let len: usize = self
            .items
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum();
        let mut out = Vec::with_capacity(len + 2);
        out.push(b'{');
        for (i, (k, v)) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            crate::wire::write_json(&mut out, k.as_ref());
            out.push(b':');
            out.extend_from_slice(v.get().as_bytes());
        }
        out.push(b'}');
        out
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Vec<(Cow<'de, str>, Cow<'de, RawValue>)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            let v: &'de RawValue = map.next_value()?;
            items.push((k, Cow::Borrowed(v)));
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_model_and_keeps_other_bytes() {
        let body = br#"{"model":"claude-x", "messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"EqQB\u002b/x=="}]}] ,"metadata":{"a":1},"stream":true}"#;
        let mut f = Fields::parse(body).unwrap();
        assert_eq!(f.get_str("model").as_deref(), Some("claude-x"));
        assert_eq!(f.get_bool("stream"), Some(true));
        f.set("model", &"upstream-id".into());
        assert!(f.remove("metadata"));
        let out = String::from_utf8(f.to_vec()).unwrap();
        assert_eq!(
            out,
            r#"{"model":"upstream-id","messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"EqQB\u002b/x=="}]}],"stream":true}"#
        );
    }

    #[test]
    fn typed_fields_name_their_path() {
        let f = Fields::parse(br#"{"model":3,"stream":null,"n":[1,"x"]}"#).unwrap();
        assert_eq!(
            f.field::<String>("model").unwrap_err().to_string(),
            "model: expected a string, got the number 3"
        );
        assert_eq!(f.field::<bool>("stream").unwrap(), None);
        assert_eq!(f.field::<bool>("absent").unwrap(), None);
        assert_eq!(
            f.field::<Vec<u32>>("n").unwrap_err().to_string(),
            r#"n[1]: expected a whole number, got the string "x""#
        );
    }

    #[test]
    fn rename_keeps_position() {
        let mut f = Fields::parse(br#"{"a":1,"max_tokens":5,"b":2}"#).unwrap();
        assert!(f.rename("max_tokens", "max_completion_tokens"));
        assert_eq!(f.to_vec(), br#"{"a":1,"max_completion_tokens":5,"b":2}"#);
    }

    #[test]
    fn rejects_non_objects_and_trailing_garbage() {
        assert!(Fields::parse(b"[1]").is_err());
        assert!(Fields::parse(b"{\"a\":1} x").is_err());
        assert!(Fields::parse(b"{\"a\":").is_err());
    }
}

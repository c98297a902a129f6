//! Provider quirks on a request's top-level parameters, written once: which parameters are never
//! sent, how far the output-token limit is clamped, and under which field it travels
//! (`max_tokens` or `max_completion_tokens`). The encoders apply them when they write a
//! translated request ([`ChatTarget::output_limit`], [`ResponsesTarget::output_limit`]); the
//! gateway applies them to a same-protocol body it passes through ([`Target::pass_through`]), so
//! both paths send an upstream the same parameters (DESIGN.md §4.1).

use crate::codec::{Protocol, Target};
use crate::ir::Dropped;
use crate::passthrough::Fields;
use crate::target::{ChatTarget, MaxTokensField, ResponsesTarget};

impl MaxTokensField {
    /// The field's name in a Chat Completions body.
    pub fn key(self) -> &'static str {
        match self {
            MaxTokensField::MaxTokens => "max_tokens",
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
        }
    }

    /// The other field, which the upstream does not read.
    fn other(self) -> &'static str {
        match self {
            MaxTokensField::MaxTokens => "max_completion_tokens",
            MaxTokensField::MaxCompletionTokens => "max_tokens",
        }
    }
}

/// `limit` clamped to `cap`.
fn clamp(limit: u32, cap: Option<u32>) -> u32 {
    cap.map_or(limit, |c| limit.min(c))
}

impl ChatTarget {
    /// The output-token limit to send for a client's `requested` one: clamped to
    /// [`ChatTarget::max_output_tokens`], under the field the upstream reads. `None` when the
    /// client gave none or the provider takes none (`max_tokens` dropped).
    pub fn output_limit(&self, requested: Option<u32>) -> Option<(MaxTokensField, u32)> {
        if self.drops("max_tokens") {
            return None;
        }
        requested.map(|n| (self.max_tokens_field, clamp(n, self.max_output_tokens)))
    }

    /// A Chat body passed through: the limit moved under the field the upstream reads (OpenAI's
    /// rule: `max_completion_tokens` wins when both are given, as the Chat decoder reads it) and
    /// clamped.
    fn limit_in_body(&self, f: &mut Fields<'_>, dropped: &mut Dropped) {
        let given = ["max_completion_tokens", "max_tokens"]
            .into_iter()
            .find_map(|k| f.get(k).map(|raw| raw.get().to_owned()));
        let Some(given) = given else {
            return;
        };
        if self.drops("max_tokens") {
            for k in ["max_tokens", "max_completion_tokens"] {
                if f.remove(k) {
                    dropped.add(k);
                }
            }
            return;
        }
        let (key, other) = (self.max_tokens_field.key(), self.max_tokens_field.other());
        if f.contains(key) {
            if f.remove(other) {
                // Both were given: keep the one the client meant, under the upstream's name.
                if let Ok(v) = serde_json::from_str(&given) {
                    f.set(key, &v);
                }
            }
        } else {
            f.rename(other, key);
        }
        let n = f.get_u64(key);
        if let (Some(n), Some(cap)) = (n, self.max_output_tokens)
            && n > u64::from(cap)
        {
            f.set(key, &cap.into());
        }
    }
}

impl ResponsesTarget {
    /// The `max_output_tokens` to send for a client's `requested` limit: clamped to the cap;
    /// `None` when the client gave none or the provider takes none.
    pub fn output_limit(&self, requested: Option<u32>) -> Option<u32> {
        if self.drops("max_output_tokens") {
            return None;
        }
        requested.map(|n| clamp(n, self.max_output_tokens))
    }
}

impl Target {
    /// The parameters never sent to this upstream in a `protocol` body: the Chat and Responses
    /// lists; for an Anthropic body, the provider's list (its rejects and the definition's
    /// `additional_drop_params`), which the Chat list carries.
    pub fn drop_list(&self, protocol: Protocol) -> &[String] {
        match protocol {
            Protocol::OpenAiResponses => &self.responses.drop,
            _ => &self.chat.drop,
        }
    }

    /// Edits a same-protocol body for this upstream as the `protocol` encoder would write it:
    /// `model` is the upstream's id, the parameters of [`Target::drop_list`] are removed, and
    /// the output-token limit is clamped and, for Chat, carried under the upstream's field.
    /// Every other value keeps its bytes. Returns what was removed.
    pub fn pass_through(&self, protocol: Protocol, f: &mut Fields<'_>) -> Dropped {
        let mut dropped = Dropped::default();
        let model = match protocol {
            Protocol::Anthropic => &self.anthropic.model,
            Protocol::OpenAiChat => &self.chat.model,
            Protocol::OpenAiResponses => &self.responses.model,
            Protocol::BedrockConverse => &self.converse.model,
        };
        f.set("model", &model.as_str().into());
        for p in self.drop_list(protocol) {
            // The Chat limit's drop removes both of its fields, below.
            if protocol == Protocol::OpenAiChat && p == "max_tokens" {
                continue;
            }
            if f.remove(p) {
                dropped.add(p);
            }
        }
        let (key, cap) = match protocol {
            Protocol::OpenAiChat => {
                self.chat.limit_in_body(f, &mut dropped);
                return dropped;
            }
            Protocol::OpenAiResponses => ("max_output_tokens", self.responses.max_output_tokens),
            Protocol::Anthropic => ("max_tokens", self.anthropic.max_output_tokens),
            Protocol::BedrockConverse => return dropped,
        };
        if let (Some(n), Some(cap)) = (f.get_u64(key), cap)
            && n > u64::from(cap)
        {
            f.set(key, &cap.into());
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::AnthropicTarget;
    use serde_json::{Value, json};

    fn target(field: MaxTokensField, drop: &[&str]) -> Target {
        let drop: Vec<String> = drop.iter().map(|s| (*s).to_owned()).collect();
        Target {
            chat: ChatTarget {
                model: "up".into(),
                max_tokens_field: field,
                max_output_tokens: Some(100),
                drop: drop.clone(),
                ..ChatTarget::default()
            },
            responses: ResponsesTarget {
                model: "up".into(),
                max_output_tokens: Some(100),
                drop,
            },
            anthropic: AnthropicTarget {
                model: "up".into(),
                max_output_tokens: Some(100),
                supports_thinking: false,
            },
            ..Target::default()
        }
    }

    /// `body` sent both ways to an upstream of the client's protocol: decoded and re-encoded
    /// (translation), and edited in place (pass-through).
    fn both_paths(p: Protocol, t: &Target, body: &Value) -> (Value, Value, Dropped, Dropped) {
        let bytes = serde_json::to_vec(body).unwrap();
        let ir = p.codec().decode_request(&bytes).unwrap();
        let mut enc_dropped = Dropped::default();
        let encoded = p.codec().encode_request(&ir, t, &mut enc_dropped);
        let mut f = Fields::parse(&bytes).unwrap();
        let pass_dropped = t.pass_through(p, &mut f);
        (
            serde_json::from_slice(&encoded).unwrap(),
            serde_json::from_slice(&f.to_vec()).unwrap(),
            enc_dropped,
            pass_dropped,
        )
    }

    const LIMITS: [&str; 3] = ["max_tokens", "max_completion_tokens", "max_output_tokens"];

    fn assert_same(encoded: &Value, passed: &Value, params: &[&str]) {
        for k in LIMITS.iter().chain(params).chain(&["model"]) {
            assert_eq!(
                encoded.get(*k),
                passed.get(*k),
                "{k}: {encoded} vs {passed}"
            );
        }
    }

    #[test]
    fn chat_translation_and_pass_through_send_the_same_parameters() {
        let msgs = json!([{"role": "user", "content": "hi"}]);
        for field in [
            MaxTokensField::MaxTokens,
            MaxTokensField::MaxCompletionTokens,
        ] {
            let t = target(field, &["top_k", "user", "temperature"]);
            for limit in [
                json!({"max_tokens": 500}),
                json!({"max_completion_tokens": 500}),
                json!({"max_tokens": 50, "max_completion_tokens": 500}),
                json!({"max_tokens": 50}),
                json!({}),
            ] {
                let mut body = json!({"model": "client", "messages": msgs, "top_k": 5,
                    "user": "u", "temperature": 0.5, "top_p": 0.9});
                body.as_object_mut()
                    .unwrap()
                    .extend(limit.as_object().unwrap().clone());
                let (enc, pass, enc_dropped, pass_dropped) =
                    both_paths(Protocol::OpenAiChat, &t, &body);
                assert_same(&enc, &pass, &["top_k", "user", "temperature", "top_p"]);
                assert_eq!(pass["model"], "up");
                assert!(pass.get(field.other()).is_none(), "{pass}");
                let expect = limit
                    .get("max_completion_tokens")
                    .or(limit.get("max_tokens"));
                let expect = expect.map(|v| v.as_u64().unwrap().min(100));
                assert_eq!(pass.get(field.key()).and_then(Value::as_u64), expect);
                for p in ["top_k", "user", "temperature"] {
                    assert!(pass_dropped.iter().any(|d| d == p), "{p}");
                    assert!(enc_dropped.iter().any(|d| d == p), "{p}");
                }
            }
        }
    }

    #[test]
    fn a_dropped_chat_limit_is_sent_under_neither_field() {
        let t = target(MaxTokensField::MaxCompletionTokens, &["max_tokens"]);
        let body = json!({"model": "c", "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 5, "max_completion_tokens": 7});
        let (enc, pass, _, pass_dropped) = both_paths(Protocol::OpenAiChat, &t, &body);
        assert_same(&enc, &pass, &[]);
        assert!(pass.get("max_tokens").is_none() && pass.get("max_completion_tokens").is_none());
        assert_eq!(
            pass_dropped.header_value(),
            "max_tokens,max_completion_tokens"
        );
    }

    #[test]
    fn responses_translation_and_pass_through_send_the_same_parameters() {
        let t = target(MaxTokensField::MaxTokens, &["temperature", "user"]);
        for limit in [json!(500), json!(50), Value::Null] {
            let mut body = json!({"model": "c", "input": "hi", "temperature": 0.2,
                "user": "u", "top_p": 0.5});
            if !limit.is_null() {
                body["max_output_tokens"] = limit.clone();
            }
            let (enc, pass, enc_dropped, pass_dropped) =
                both_paths(Protocol::OpenAiResponses, &t, &body);
            assert_same(&enc, &pass, &["temperature", "user", "top_p"]);
            assert_eq!(enc_dropped.header_value(), pass_dropped.header_value());
        }
    }

    #[test]
    fn the_responses_encoders_own_store_is_left_out_for_an_upstream_that_rejects_it() {
        let body = json!({"model": "c", "input": "hi"});
        for (drop, store) in [(&[][..], Some(json!(false))), (&["store"][..], None)] {
            let t = target(MaxTokensField::MaxTokens, drop);
            let (enc, pass, _, _) = both_paths(Protocol::OpenAiResponses, &t, &body);
            assert_eq!(enc.get("store").cloned(), store, "{enc}");
            assert!(pass.get("store").is_none());
        }
    }

    #[test]
    fn anthropic_pass_through_caps_and_drops_the_providers_list() {
        let t = target(MaxTokensField::MaxTokens, &["metadata"]);
        let body = br#"{"model":"c","max_tokens":32000,"metadata":{"user_id":"u"},"top_k":3}"#;
        let mut f = Fields::parse(body).unwrap();
        let dropped = t.pass_through(Protocol::Anthropic, &mut f);
        assert_eq!(f.to_vec(), br#"{"model":"up","max_tokens":100,"top_k":3}"#);
        assert_eq!(dropped.header_value(), "metadata");
    }
}

//! Step selection: evaluates `when` conditions against a request view and
//! claims `times` budgets lock-free (one atomic counter per step).

use std::sync::atomic::{AtomicU32, Ordering};

use crate::inspect::RequestView;
use crate::script::{Protocol, Reply, Script, When};

/// A script plus its per-step use counters; replaced wholesale by
/// `set_script`, so counters restart with a new script.
#[derive(Debug)]
pub(crate) struct ActiveScript {
    pub script: Script,
    used: Vec<AtomicU32>,
    enabled: [bool; 5],
}

fn slot(p: Protocol) -> usize {
    match p {
        Protocol::OpenaiChat => 0,
        Protocol::Anthropic => 1,
        Protocol::OpenaiResponses => 2,
        Protocol::BedrockInvoke => 3,
        Protocol::BedrockConverse => 4,
    }
}

impl ActiveScript {
    pub fn new(script: Script) -> Self {
        let mut enabled = [false; 5];
        for p in &script.protocols {
            enabled[slot(*p)] = true;
        }
        ActiveScript {
            used: script.steps.iter().map(|_| AtomicU32::new(0)).collect(),
            script,
            enabled,
        }
    }

    /// Whether the script lets this API family answer.
    pub fn enabled(&self, p: Protocol) -> bool {
        self.enabled[slot(p)]
    }

    /// The reply for this request: the first step whose conditions all hold
    /// and whose budget is not exhausted (claiming one use), else `default`.
    pub fn select(&self, view: &RequestView<'_>) -> Option<&Reply> {
        for (step, used) in self.script.steps.iter().zip(&self.used) {
            if !when_matches(&step.when, view) {
                continue;
            }
            match step.times {
                None => return Some(&step.reply),
                Some(limit) => {
                    let claimed = used
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                            (n < limit).then_some(n + 1)
                        })
                        .is_ok();
                    if claimed {
                        return Some(&step.reply);
                    }
                }
            }
        }
        self.script.default.as_ref()
    }
}

/// True when every given condition of `when` holds for `view`.
pub(crate) fn when_matches(when: &When, view: &RequestView<'_>) -> bool {
    when.protocol.is_none_or(|p| p == view.protocol)
        && when.operation.is_none_or(|o| Some(o) == view.operation)
        && when.path.as_deref().is_none_or(|p| p == view.path)
        && when.model.as_deref().is_none_or(|m| m == view.model)
        && when.stream.is_none_or(|s| s == view.stream)
        && when.has_tools.is_none_or(|t| t == view.has_tools)
        && when
            .last_role
            .as_deref()
            .is_none_or(|r| Some(r) == view.last_role)
        && when
            .contains
            .as_deref()
            .is_none_or(|c| view.raw.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn script(json: &str) -> ActiveScript {
        ActiveScript::new(Script::from_json(json).expect("valid script"))
    }

    fn pick<'s>(s: &'s ActiveScript, p: Protocol, body: &Value) -> Option<&'s str> {
        let raw = body.to_string();
        let view = RequestView::new(p, "/v1/chat/completions", &raw, body);
        s.select(&view).and_then(|r| r.text.as_deref())
    }

    #[test]
    fn first_matching_step_wins_and_times_exhaust() {
        let s = script(
            r#"{"steps":[
                {"when":{"contains":"hello"},"times":2,"reply":{"text":"A"}},
                {"when":{"contains":"hello"},"reply":{"text":"B"}},
                {"reply":{"text":"C"}}
            ]}"#,
        );
        let hello = json!({"messages":[{"role":"user","content":"hello there"}]});
        let other = json!({"messages":[{"role":"user","content":"bye"}]});
        assert_eq!(pick(&s, Protocol::OpenaiChat, &other), Some("C"));
        assert_eq!(pick(&s, Protocol::OpenaiChat, &hello), Some("A"));
        assert_eq!(pick(&s, Protocol::OpenaiChat, &hello), Some("A"));
        assert_eq!(pick(&s, Protocol::OpenaiChat, &hello), Some("B"));
        assert_eq!(pick(&s, Protocol::OpenaiChat, &hello), Some("B"));
    }

    #[test]
    fn default_and_no_match() {
        let s = script(
            r#"{"steps":[{"when":{"model":"m1"},"reply":{"text":"m1"}}],"default":{"text":"D"}}"#,
        );
        assert_eq!(
            pick(&s, Protocol::OpenaiChat, &json!({"model":"m1"})),
            Some("m1")
        );
        assert_eq!(
            pick(&s, Protocol::OpenaiChat, &json!({"model":"m2"})),
            Some("D")
        );
        let s = script(r#"{"steps":[{"when":{"model":"m1"},"reply":{"text":"m1"}}]}"#);
        let raw = "{}";
        let body = json!({});
        let view = RequestView::new(Protocol::OpenaiChat, "/", raw, &body);
        assert!(s.select(&view).is_none());
    }

    #[test]
    fn all_conditions_must_hold() {
        let s = script(
            r#"{"steps":[{"when":{"last_role":"tool","has_tools":true,"model":"m","path":"/v1/chat/completions","stream":true,"protocol":"openai-chat"},"reply":{"text":"all"}}],"default":{"text":"none"}}"#,
        );
        let full = json!({"model":"m","stream":true,"tools":[{}],"messages":[{"role":"tool","content":"r"}]});
        assert_eq!(pick(&s, Protocol::OpenaiChat, &full), Some("all"));
        assert_eq!(pick(&s, Protocol::Anthropic, &full), Some("none"));
        let mut no_tools = full.clone();
        no_tools["tools"] = json!([]);
        assert_eq!(pick(&s, Protocol::OpenaiChat, &no_tools), Some("none"));
        let mut user_last = full.clone();
        user_last["messages"] = json!([{"role":"user","content":"x"}]);
        assert_eq!(pick(&s, Protocol::OpenaiChat, &user_last), Some("none"));
        let mut not_stream = full.clone();
        not_stream["stream"] = json!(false);
        assert_eq!(pick(&s, Protocol::OpenaiChat, &not_stream), Some("none"));
        let raw = full.to_string();
        let view = RequestView::new(Protocol::OpenaiChat, "/chat/completions", &raw, &full);
        assert_eq!(
            s.select(&view).and_then(|r| r.text.as_deref()),
            Some("none")
        );
    }

    #[test]
    fn protocol_flags() {
        let s = script(r#"{"protocols":["anthropic"]}"#);
        assert!(s.enabled(Protocol::Anthropic));
        assert!(!s.enabled(Protocol::OpenaiChat));
        assert!(!s.enabled(Protocol::OpenaiResponses));
    }

    #[test]
    fn times_is_exact_under_concurrency() {
        let s = std::sync::Arc::new(script(
            r#"{"steps":[{"times":100,"reply":{"text":"A"}}],"default":{"text":"D"}}"#,
        ));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let body = json!({});
                    (0..50)
                        .filter(|_| pick(&s, Protocol::OpenaiChat, &body) == Some("A"))
                        .count()
                })
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
        assert_eq!(total, 100);
    }
}

//! `router_settings` as LiteLLM names them (docs.litellm.ai "Proxy Config.yaml" → router_settings
//! reference, and "Retries, fallbacks and cooldowns"): retries, the three fallback lists and the
//! default one, cooldowns, the routing strategy, and the pre-call context-window check. The
//! binary reads them from `config.yaml` (also from `litellm_settings`, where LiteLLM accepts
//! them) and hands them over ready to use; nothing here reads files.

use super::strategy::RoutingStrategy;
use std::time::Duration;

/// `router_settings` (LiteLLM's names and defaults unless said otherwise).
#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// Extra attempts within a model group on retryable failures (connect errors, timeouts,
    /// 408/429/5xx/529), each after a backoff; LiteLLM's default is 2.
    pub num_retries: u32,
    /// A `retry-after` longer than this is not waited for here: the attempt fails over, or the
    /// client gets the error with the `retry-after` (Claude Code waits up to 60 s, and gives up
    /// at once on a longer one: field-2026-11.md §2 item 9). Not a LiteLLM setting.
    pub max_retry_after: Duration,
    /// `fallbacks`: model group → groups tried in order when it fails (any failure but a request
    /// the client must fix; see [`crate::dispatch`]). Key `*` applies to every group.
    pub fallbacks: Fallbacks,
    /// `context_window_fallbacks`: tried when the prompt does not fit the group's models, found
    /// before sending (the pre-call check) or answered by the upstream.
    pub context_window_fallbacks: Fallbacks,
    /// `content_policy_fallbacks`: tried when an upstream refuses the content.
    pub content_policy_fallbacks: Fallbacks,
    /// `default_fallbacks`: the groups tried for a group without its own `fallbacks` entry.
    pub default_fallbacks: Vec<String>,
    /// `max_fallbacks`: at most this many fallback groups are tried per request (default 5).
    pub max_fallbacks: usize,
    /// `allowed_fails`: a deployment that fails more often than this within a minute is cooled
    /// down (default 3).
    pub allowed_fails: u32,
    /// `cooldown_time`: how long a cooled-down deployment is out of rotation (default 5 s).
    pub cooldown_time: Duration,
    /// `disable_cooldowns`.
    pub disable_cooldowns: bool,
    /// `routing_strategy` (default `simple-shuffle`).
    pub routing_strategy: RoutingStrategy,
    /// `enable_pre_call_checks`: compare the request's size with every deployment's
    /// `model_info.max_input_tokens` before sending. Also on for a group that has
    /// `context_window_fallbacks` (the point of those is to be chosen before sending).
    pub enable_pre_call_checks: bool,
    /// `default_max_parallel_requests`: the `max_parallel_requests` of deployments that set none.
    pub default_max_parallel_requests: Option<u32>,
    /// How long a session stays bound to the deployment it started on after its last request
    /// (LiteLLM's `deployment_affinity_ttl_seconds`, default 3600 s).
    pub session_ttl: Duration,
    /// Most sessions remembered; the least recently used go first.
    pub max_sessions: usize,
}

impl Default for RouterSettings {
    fn default() -> RouterSettings {
        RouterSettings {
            num_retries: 2,
            max_retry_after: Duration::from_secs(20),
            fallbacks: Fallbacks::default(),
            context_window_fallbacks: Fallbacks::default(),
            content_policy_fallbacks: Fallbacks::default(),
            default_fallbacks: Vec::new(),
            max_fallbacks: 5,
            allowed_fails: 3,
            cooldown_time: Duration::from_secs(5),
            disable_cooldowns: false,
            routing_strategy: RoutingStrategy::SimpleShuffle,
            enable_pre_call_checks: false,
            default_max_parallel_requests: None,
            session_ttl: Duration::from_secs(3600),
            max_sessions: 10_000,
        }
    }
}

/// Which fallback list a failure takes (LiteLLM: a context-window error only ever takes
/// `context_window_fallbacks`, a content-policy refusal only `content_policy_fallbacks`, every
/// other failure `fallbacks`, else `default_fallbacks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackKind {
    /// `fallbacks`, else `default_fallbacks`.
    Generic,
    /// `context_window_fallbacks`.
    ContextWindow,
    /// `content_policy_fallbacks`.
    ContentPolicy,
}

/// One fallback list in LiteLLM's shape, `[{"model-a": ["model-b", "model-c"]}]`, flattened to
/// `(group, fallbacks)` pairs in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fallbacks(pub Vec<(String, Vec<String>)>);

impl<'de> serde::Deserialize<'de> for Fallbacks {
    /// LiteLLM's shape: a list of maps from a model group to its fallback groups (one key per
    /// map as LiteLLM writes them; several keys are read in order). A fallback list may also be
    /// a single name.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fallbacks, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Shape {
            List(Vec<ordered::Ordered<OneOrMany>>),
        }
        let Shape::List(entries) = Shape::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "expected a list of maps from a model name to its fallback model names, \
                 e.g. [{\"gpt-4o\": [\"gpt-4o-mini\"]}]",
            )
        })?;
        let mut out = Vec::new();
        for entry in entries {
            for (group, v) in entry.0 {
                let list = match v {
                    OneOrMany::One(s) => vec![s],
                    OneOrMany::Many(v) => v,
                };
                out.push((group, list));
            }
        }
        Ok(Fallbacks(out))
    }
}

/// A map read in the order written (serde's maps visit entries in document order).
mod ordered {
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use std::marker::PhantomData;

    /// The entries of one map, in order.
    pub struct Ordered<V>(pub Vec<(String, V)>);

    impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ordered<V>, D::Error> {
            struct Visit<V>(PhantomData<V>);
            impl<'de, V: Deserialize<'de>> Visitor<'de> for Visit<V> {
                type Value = Ordered<V>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered<V>, A::Error> {
                    let mut out = Vec::new();
                    while let Some(kv) = m.next_entry::<String, V>()? {
                        out.push(kv);
                    }
                    Ok(Ordered(out))
                }
            }
            d.deserialize_map(Visit(PhantomData))
        }
    }
}

impl Fallbacks {
    /// The fallbacks of `group`: its own entry, else the `*` entry.
    pub fn of(&self, group: &str) -> Option<&[String]> {
        let find = |key: &str| {
            self.0
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_slice())
        };
        find(group).or_else(|| find("*"))
    }

    /// Whether no group has fallbacks.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl RouterSettings {
    /// The fallback groups for a failure of `kind` in `group`, in order, at most
    /// [`RouterSettings::max_fallbacks`] of them.
    pub fn fallbacks_for(&self, kind: FallbackKind, group: &str) -> &[String] {
        let list = match kind {
            FallbackKind::ContextWindow => self.context_window_fallbacks.of(group),
            FallbackKind::ContentPolicy => self.content_policy_fallbacks.of(group),
            FallbackKind::Generic => self
                .fallbacks
                .of(group)
                .or(Some(self.default_fallbacks.as_slice())),
        };
        let list = list.unwrap_or_default();
        &list[..list.len().min(self.max_fallbacks)]
    }

    /// Whether the pre-call context-window check runs for `group`.
    pub fn checks_context(&self, group: &str) -> bool {
        self.enable_pre_call_checks || self.context_window_fallbacks.of(group).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(&str, &[&str])]) -> Fallbacks {
        Fallbacks(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect(),
        )
    }

    #[test]
    fn each_failure_takes_its_own_list() {
        let s = RouterSettings {
            fallbacks: list(&[("a", &["b", "c"]), ("*", &["z"])]),
            context_window_fallbacks: list(&[("a", &["big"])]),
            default_fallbacks: vec!["d".into()],
            max_fallbacks: 1,
            ..RouterSettings::default()
        };
        assert_eq!(s.fallbacks_for(FallbackKind::Generic, "a"), ["b"]);
        assert_eq!(s.fallbacks_for(FallbackKind::Generic, "q"), ["z"]);
        assert_eq!(s.fallbacks_for(FallbackKind::ContextWindow, "a"), ["big"]);
        assert!(s.fallbacks_for(FallbackKind::ContextWindow, "q").is_empty());
        assert!(s.fallbacks_for(FallbackKind::ContentPolicy, "a").is_empty());
        let s = RouterSettings {
            default_fallbacks: vec!["d".into()],
            ..RouterSettings::default()
        };
        assert_eq!(s.fallbacks_for(FallbackKind::Generic, "q"), ["d"]);
        assert!(s.checks_context("a") == s.enable_pre_call_checks);
    }

    #[test]
    fn fallbacks_read_litellms_shape() {
        let f: Fallbacks = serde_json::from_str(r#"[{"a": ["b", "c"]}, {"*": "z"}]"#).unwrap();
        assert_eq!(f, list(&[("a", &["b", "c"]), ("*", &["z"])]));
        let e = serde_json::from_str::<Fallbacks>(r#"{"a": ["b"]}"#).unwrap_err();
        assert!(e.to_string().contains("expected a list of maps"), "{e}");
        let e = serde_json::from_str::<Fallbacks>(r#"[{"a": 3}]"#).unwrap_err();
        assert!(e.to_string().contains("expected a list of maps"), "{e}");
    }
}

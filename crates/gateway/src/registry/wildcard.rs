//! Wildcard model groups (`openai/*`, `claude-*`, `*`), as LiteLLM's pattern router serves them
//! (docs.litellm.ai "Provider specific Wildcard routing"): a requested name that no group has
//! exactly is matched against the groups whose `model_name` contains `*`, the most specific
//! (longest) pattern first, and served by that group's deployments with what the wildcards matched
//! filled into their `litellm_params.model`, one `*` after the other. So `model_name: openai/*`,
//! `model: openai/*` serves a request for `openai/gpt-x` at provider `openai` with model id
//! `gpt-x`; `model_name: "*"`, `model: openai/*` sends any name to OpenAI. A deployment whose model
//! has no `*` serves every matching name with its own model.
//!
//! The deployments made for a name are kept (bounded), so a name costs one specialisation
//! ([`Deployment::specialize`], no I/O) the first time and a map lookup afterwards; exact names
//! never get here.

use crate::providers::deployment::Deployment;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most names kept; when full, the cache starts again.
const CACHE_LIMIT: usize = 512;

/// A group name with wildcards, split at each `*`.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The group's `model_name`, as written.
    pub group: String,
    parts: Vec<String>,
}

impl Pattern {
    /// `None` when `name` has no `*`.
    pub fn new(name: &str) -> Option<Pattern> {
        name.contains('*').then(|| Pattern {
            group: name.to_owned(),
            parts: name.split('*').map(str::to_owned).collect(),
        })
    }

    /// What each `*` matched in `s`, when `s` matches the whole pattern. Like LiteLLM's greedy
    /// `(.*)` groups: an earlier wildcard takes as much as it can.
    pub fn captures<'a>(&self, s: &'a str) -> Option<Vec<&'a str>> {
        let (first, rest) = self.parts.split_first()?;
        let (last, middle) = rest.split_last()?;
        let body = s.strip_prefix(first.as_str())?;
        let mut window = body.strip_suffix(last.as_str())?;
        let mut caps = Vec::with_capacity(rest.len());
        for part in middle.iter().rev() {
            let at = window.rfind(part.as_str())?;
            caps.push(&window[at + part.len()..]);
            window = &window[..at];
        }
        caps.push(window);
        caps.reverse();
        Some(caps)
    }

    /// LiteLLM's order: longer patterns are more specific; then more wildcards.
    fn specificity(&self) -> (usize, usize) {
        (self.group.len(), self.parts.len())
    }
}

/// `model` with each `*` replaced by the next capture, as LiteLLM's `set_deployment_model_name`
/// does: a model without `*` is kept; more captures than wildcards gives the requested name.
pub fn fill(model: &str, caps: &[&str], requested: &str) -> String {
    let wildcards = model.matches('*').count();
    if wildcards == 0 {
        return model.to_owned();
    }
    if caps.len() > wildcards {
        return requested.to_owned();
    }
    let mut out = model.to_owned();
    for c in caps {
        out = out.replacen('*', c, 1);
    }
    out
}

/// A group and its deployments made for one requested name.
pub type Served = (String, Vec<Arc<Deployment>>);

/// The wildcard groups of a snapshot, most specific first, and the deployments made so far.
#[derive(Debug, Default, Clone)]
pub struct Wildcards {
    patterns: Arc<Vec<Pattern>>,
    made: Arc<Mutex<HashMap<String, Served>>>,
}

impl Wildcards {
    /// The patterns among `names` (definition order breaks ties), with an empty cache.
    pub fn index<'a>(names: impl Iterator<Item = &'a String>) -> Wildcards {
        let mut patterns: Vec<Pattern> = names.filter_map(|n| Pattern::new(n)).collect();
        patterns.sort_by_key(|p| std::cmp::Reverse(p.specificity()));
        Wildcards {
            patterns: Arc::new(patterns),
            made: Arc::default(),
        }
    }

    /// The group that serves `requested` and its deployments for that name; `groups` are the
    /// snapshot's groups.
    pub fn serve(
        &self,
        requested: &str,
        groups: &HashMap<String, Vec<Arc<Deployment>>>,
    ) -> Option<Served> {
        if self.patterns.is_empty() {
            return None;
        }
        let cache = || self.made.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = cache().get(requested) {
            return Some(hit.clone());
        }
        for p in self.patterns.iter() {
            let Some(caps) = p.captures(requested) else {
                continue;
            };
            let made: Vec<Arc<Deployment>> = groups
                .get(&p.group)
                .into_iter()
                .flatten()
                .filter_map(|d| {
                    let model = fill(&d.definition.litellm_params.model, &caps, requested);
                    d.specialize(requested, model)
                        .map_err(|e| tracing::warn!("wildcard group '{}': {e}", p.group))
                        .ok()
                        .map(Arc::new)
                })
                .collect();
            if made.is_empty() {
                continue;
            }
            let found = (p.group.clone(), made);
            let mut c = cache();
            if c.len() >= CACHE_LIMIT {
                c.clear();
            }
            c.insert(requested.to_owned(), found.clone());
            return Some(found);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(pattern: &str, s: &str) -> Option<Vec<String>> {
        Pattern::new(pattern)
            .unwrap()
            .captures(s)
            .map(|c| c.into_iter().map(str::to_owned).collect())
    }

    #[test]
    fn patterns_match_whole_names_and_capture_each_wildcard() {
        assert_eq!(caps("openai/*", "openai/gpt-x"), Some(vec!["gpt-x".into()]));
        assert_eq!(caps("openai/*", "openai/"), Some(vec![String::new()]));
        assert_eq!(caps("openai/*", "anthropic/x"), None);
        assert_eq!(
            caps("*", "anything/at/all"),
            Some(vec!["anything/at/all".into()])
        );
        assert_eq!(
            caps("claude-*", "claude-opus-4-6"),
            Some(vec!["opus-4-6".into()])
        );
        assert_eq!(
            caps("*-latest", "mistral-large-latest"),
            Some(vec!["mistral-large".into()])
        );
        assert_eq!(caps("*-latest", "latest-mistral"), None);
        assert_eq!(
            caps("fo::*:static::*", "fo::hi:static::there"),
            Some(vec!["hi".into(), "there".into()])
        );
        // Greedy, as LiteLLM's `(.*)`: the first wildcard takes what it can.
        assert_eq!(caps("a*b*", "a1b2b3"), Some(vec!["1b2".into(), "3".into()]));
    }

    #[test]
    fn fill_replaces_wildcards_in_order() {
        assert_eq!(fill("openai/*", &["gpt-x"], "openai/gpt-x"), "openai/gpt-x");
        assert_eq!(
            fill("anthropic/*", &["claude-x"], "claude-x"),
            "anthropic/claude-x"
        );
        assert_eq!(fill("openai/fixed", &["x"], "x"), "openai/fixed");
        assert_eq!(
            fill("openai/fo::*:static::*", &["a", "b"], "r"),
            "openai/fo::a:static::b"
        );
        assert_eq!(fill("openai/*", &["a", "b"], "requested"), "requested");
    }

    #[test]
    fn longer_patterns_are_tried_first() {
        let names: Vec<String> = ["*", "claude-*", "claude-opus-*"].map(str::to_owned).into();
        let w = Wildcards::index(names.iter());
        let order: Vec<&str> = w.patterns.iter().map(|p| p.group.as_str()).collect();
        assert_eq!(order, ["claude-opus-*", "claude-*", "*"]);
    }
}

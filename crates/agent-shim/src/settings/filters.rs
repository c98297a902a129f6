//! A profile's `model_api_filters` (agent-run's key, seed 002): which of its providers' remote
//! models (`agent-shim models list --remote`) count for it, as glob patterns on model ids.
//!
//! - key omitted: every model (the catch-all rule);
//! - `[]` or `null`: no remote loading at all for the profile (no fetch, no cache);
//! - a list of patterns: the models whose id matches at least one. `*` matches any run of
//!   characters (`/` included: ids such as `openai/gpt-5` are one name), `?` one character;
//!   everything else matches itself, case-sensitively.
//!
//! Filters choose what is shown; the cache keeps a provider's whole list, so `--all` can show
//! what they exclude and two profiles on one provider can filter it differently.

use serde::{Deserialize, Serialize};

/// A profile's `model_api_filters`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ApiFilters {
    /// Key omitted: every model.
    #[default]
    CatchAll,
    /// `[]` or `null`: remote loading is off.
    Disabled,
    /// At least one glob pattern.
    Patterns(Vec<String>),
}

impl ApiFilters {
    /// Whether remote models are loaded at all.
    pub fn enabled(&self) -> bool {
        !matches!(self, ApiFilters::Disabled)
    }

    /// Whether the model `id` passes (a disabled filter passes nothing).
    pub fn admits(&self, id: &str) -> bool {
        match self {
            ApiFilters::CatchAll => true,
            ApiFilters::Disabled => false,
            ApiFilters::Patterns(p) => p.iter().any(|p| glob(p, id)),
        }
    }

    /// The patterns as shown in `--json` (`null` for the catch-all, `[]` when disabled).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ApiFilters::CatchAll => serde_json::Value::Null,
            ApiFilters::Disabled => serde_json::json!([]),
            ApiFilters::Patterns(p) => serde_json::json!(p),
        }
    }

    /// Whether the key was omitted (serialisation skips it then).
    pub fn is_catch_all(&self) -> bool {
        matches!(self, ApiFilters::CatchAll)
    }
}

impl Serialize for ApiFilters {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ApiFilters::CatchAll | ApiFilters::Disabled => {
                s.collect_seq(std::iter::empty::<&str>())
            }
            ApiFilters::Patterns(p) => p.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ApiFilters {
    /// Present: `null` or a list (omitted is [`ApiFilters::CatchAll`], through `#[serde(default)]`).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<Vec<String>>::deserialize(d)? {
            None => ApiFilters::Disabled,
            Some(p) if p.is_empty() => ApiFilters::Disabled,
            Some(p) => ApiFilters::Patterns(p),
        })
    }
}

/// Whether `text` matches the glob `pattern` (`*`, `?`; see the module docs).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it currently stands for.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` take one more character.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_stars_and_question_marks() {
        for (p, t) in [
            ("*", ""),
            ("*", "gpt-5"),
            ("gpt-*", "gpt-5-mini"),
            ("*coder*", "qwen3-coder-480b"),
            ("openai/*", "openai/gpt-5"),
            ("llama-?-70b", "llama-3-70b"),
            ("a*b*c", "aXbYbZc"),
            ("exact", "exact"),
        ] {
            assert!(glob(p, t), "{p} should match {t}");
        }
        for (p, t) in [
            ("gpt-*", "o3"),
            ("llama-?-70b", "llama-33-70b"),
            ("a*b*c", "aXbYbZ"),
            ("exact", "exact2"),
            ("GPT-*", "gpt-5"),
            ("", "x"),
        ] {
            assert!(!glob(p, t), "{p} should not match {t}");
        }
    }

    #[test]
    fn omitted_null_empty_and_patterns() {
        #[derive(Deserialize)]
        struct P {
            #[serde(default)]
            model_api_filters: ApiFilters,
        }
        let parse = |y: &str| {
            crate::settings::yaml::parse::<P>(y, "p.yaml")
                .unwrap()
                .model_api_filters
        };
        assert_eq!(parse("{}"), ApiFilters::CatchAll);
        assert_eq!(parse("model_api_filters: null"), ApiFilters::Disabled);
        assert_eq!(parse("model_api_filters: []"), ApiFilters::Disabled);
        let f = parse("model_api_filters: ['gpt-*', '*coder*']");
        assert!(f.admits("gpt-5") && f.admits("qwen3-coder") && !f.admits("o3"));
        assert!(ApiFilters::CatchAll.admits("anything"));
        assert!(!ApiFilters::Disabled.admits("anything") && !ApiFilters::Disabled.enabled());
    }
}

//! The built-in catalogue compiled into the binary — `assets/models.yaml` and
//! `assets/profiles/<name>.yaml`, the single source of truth — and the cheap ways in that the
//! shell-hook path needs: one profile by name, and the model entries of a few model names without
//! parsing the other entries. Parsing the whole built-in catalogue on every `env --export` or
//! `enter` was a fifth of the hook's CPU (bench/README.md, "Profiles", "Hook path").
//!
//! The model file is cut into its `model_list` entries by indentation (every entry starts with
//! `  - model_name: <name>`); each piece is a YAML document by itself, parsed only when asked for.
//! The unit tests check that the pieces parse to exactly the whole file's parse, entry by entry,
//! so a layout the cutting does not understand fails the tests rather than changing a definition.

use super::yaml;
use crate::error::Result;
use gateway::ModelDefinition;

/// The built-in model definitions (LiteLLM `model_list` schema).
pub const MODELS: &str = include_str!("../../assets/models.yaml");

macro_rules! builtin_profiles {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../assets/profiles/", $name, ".yaml")))),*]
    };
}

/// Built-in profiles: (name, YAML), sorted by name.
pub const PROFILES: &[(&str, &str)] = builtin_profiles!(
    "anthropic",
    "azure",
    "bedrock",
    "cerebras",
    "cerebras2",
    "claude-subscription",
    "deepseek",
    "demo",
    "gemini",
    "grok",
    "groq",
    "groq2",
    "local",
    "mistral",
    "multi",
    "openai",
    "openrouter",
);

/// The YAML of the built-in profile `name`.
pub fn profile_text(name: &str) -> Option<&'static str> {
    PROFILES
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| PROFILES[i].1)
}

/// What starts an entry of the built-in `model_list`.
const ENTRY: &str = "  - model_name: ";

/// One `model_list` entry of the built-in file: its `model_name` and its YAML text (a
/// one-item block sequence, a document by itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelEntry {
    pub name: &'static str,
    pub text: &'static str,
}

/// The entries of the built-in `model_list`, in file order. Lines before the first entry
/// (the header comments and `model_list:`) belong to none; comment lines between entries go
/// with the entry before them (YAML ignores them).
pub fn model_entries() -> impl Iterator<Item = ModelEntry> {
    let starts: Vec<usize> = line_starts(MODELS)
        .filter(|&i| MODELS[i..].starts_with(ENTRY))
        .collect();
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .copied()
        .chain([MODELS.len()])
        .collect();
    starts.into_iter().zip(ends).map(|(start, end)| {
        let text = &MODELS[start..end];
        let first = text.lines().next().unwrap_or_default();
        let name = first[ENTRY.len()..].trim();
        ModelEntry {
            name: unquote(name),
            text,
        }
    })
}

/// The byte offsets at which lines of `text` start.
fn line_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1))
}

/// A YAML scalar without the quotes it may be written with.
fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// The built-in definitions whose `model_name` is one of `names`, in file order; only their
/// entries are parsed.
pub fn models_named(names: &[&str]) -> Result<Vec<ModelDefinition>> {
    let mut out = Vec::new();
    for e in model_entries().filter(|e| names.contains(&e.name)) {
        let defs: Vec<ModelDefinition> =
            yaml::parse(e.text, &format!("built-in models.yaml ({})", e.name))?;
        out.extend(defs);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct ModelListFile {
        model_list: Vec<ModelDefinition>,
    }

    /// Everything a definition holds, keys included (its `Serialize` shows them redacted).
    fn full(d: &ModelDefinition) -> (serde_json::Value, Option<String>, Option<String>) {
        (
            serde_json::to_value(d).unwrap(),
            d.litellm_params
                .api_key
                .as_ref()
                .map(|k| k.expose().to_owned()),
            d.litellm_params.api_base.clone(),
        )
    }

    #[test]
    fn the_entries_parse_to_exactly_the_whole_files_parse() {
        let whole: ModelListFile = yaml::parse(MODELS, "built-in models.yaml").unwrap();
        let entries: Vec<ModelEntry> = model_entries().collect();
        let mut pieces = Vec::new();
        for e in &entries {
            let defs: Vec<ModelDefinition> = yaml::parse(e.text, e.name).unwrap();
            assert_eq!(defs.len(), 1, "{}: one definition per entry", e.name);
            assert_eq!(
                defs[0].model_name, e.name,
                "the name read from the first line"
            );
            pieces.extend(defs);
        }
        assert!(
            whole.model_list.len() > 30,
            "the built-in catalogue is there"
        );
        assert_eq!(pieces.len(), whole.model_list.len());
        for (p, w) in pieces.iter().zip(&whole.model_list) {
            assert_eq!(full(p), full(w), "{}", w.model_name);
        }
        // Nothing but comments and `model_list:` comes before the first entry.
        let head = &MODELS[..MODELS.find(ENTRY).unwrap()];
        for line in head.lines().map(str::trim) {
            assert!(
                line.is_empty() || line.starts_with('#') || line == "model_list:",
                "{line}"
            );
        }
    }

    #[test]
    fn models_named_picks_those_names_in_file_order() {
        let got = models_named(&["demo/haiku", "demo/opus", "no-such-model"]).unwrap();
        let names: Vec<&str> = got.iter().map(|d| d.model_name.as_str()).collect();
        assert_eq!(names, ["demo/opus", "demo/haiku"]);
        assert!(models_named(&[]).unwrap().is_empty());
    }

    #[test]
    fn profiles_are_sorted_and_found_by_name() {
        assert!(PROFILES.windows(2).all(|w| w[0].0 < w[1].0));
        for (name, text) in PROFILES {
            assert_eq!(profile_text(name), Some(*text));
        }
        assert_eq!(profile_text("nope"), None);
        assert_eq!(unquote("'a'"), "a");
        assert_eq!(unquote("\"a b\""), "a b");
        assert_eq!(unquote("a"), "a");
    }
}

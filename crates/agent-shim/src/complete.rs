//! Dynamic shell completion (clap_complete's engine): the candidates for profile names, model
//! names, `--model` and `--agent` values, and `models list --remote` targets, read from the local
//! definitions and the remote model cache only — never the network, and nothing is written.
//!
//! The shell scripts of `agent-shim completion bash|zsh|fish` call this binary with
//! [`env_vars::COMPLETE`](crate::settings::env_vars::COMPLETE) set to the shell's name
//! ([`clap_complete::CompleteEnv`], run first thing in `main`); a broken config file yields no
//! candidates rather than an error in the middle of the user's command line.

use crate::cli::NetArgs;
use crate::settings::Settings;
use crate::settings::catalog::{self, Profiles, Sourced};
use clap_complete::engine::CompletionCandidate;
use gateway::ModelDefinition;

fn settings() -> Option<Settings> {
    Settings::load(&NetArgs::default(), None).ok()
}

fn load_profiles() -> Option<Profiles> {
    catalog::load_profiles(&settings()?).ok()
}

/// Profile names, with the profile's display name (and description) as help.
pub fn profiles() -> Vec<CompletionCandidate> {
    load_profiles()
        .into_iter()
        .flatten()
        .map(|(name, p)| {
            let help = match &p.item.description {
                Some(d) => format!("{} — {d}", p.item.name),
                None => p.item.name.clone(),
            };
            CompletionCandidate::new(name).help(Some(help.into()))
        })
        .collect()
}

/// Model names (one per model group), with the upstream model and, where the definition or the
/// remote cache knows it, the context window.
pub fn models() -> Vec<CompletionCandidate> {
    let Some(s) = settings() else {
        return Vec::new();
    };
    let Ok(defs) = catalog::load_models(&s) else {
        return Vec::new();
    };
    model_candidates(&s, &defs)
}

fn model_candidates(s: &Settings, defs: &[Sourced<ModelDefinition>]) -> Vec<CompletionCandidate> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for d in defs {
        let def = &d.item;
        if seen.contains(&def.model_name.as_str()) {
            continue;
        }
        seen.push(&def.model_name);
        let window = def.model_info.context_window.or_else(|| {
            crate::remote_models::cached_model(&s.cache_dir, def).and_then(|m| m.context_window)
        });
        let help = match window {
            Some(w) => format!("{} · {} context", def.litellm_params.model, tokens(w)),
            None => def.litellm_params.model.clone(),
        };
        out.push(CompletionCandidate::new(&def.model_name).help(Some(help.into())));
    }
    out
}

/// `128k`, `1M`: a context window in words.
pub fn tokens(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// `models test`: profiles, then model names.
pub fn test_targets() -> Vec<CompletionCandidate> {
    let mut out = profiles();
    out.extend(models());
    out
}

/// `models list --remote`: profiles, then the providers that have a model list.
pub fn remote_targets() -> Vec<CompletionCandidate> {
    let profile_names: Vec<String> = load_profiles()
        .into_iter()
        .flatten()
        .map(|(n, _)| n)
        .collect();
    let mut out = profiles();
    for name in crate::remote_models::provider_names() {
        if crate::remote_models::provider_endpoint(name).is_ok() {
            // A profile of the same name wins; the prefix reaches the provider.
            let value = if profile_names.iter().any(|p| p == name) {
                format!("provider:{name}")
            } else {
                name.to_owned()
            };
            out.push(CompletionCandidate::new(value).help(Some(
                format!("provider {name} at its default endpoint").into(),
            )));
        }
    }
    out
}

/// `--agent`.
pub fn agents() -> Vec<CompletionCandidate> {
    ["claude", "codex", "opencode", "crush", "hermes", "generic"]
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_in_words() {
        assert_eq!(tokens(131_072), "131k");
        assert_eq!(tokens(1_000_000), "1M");
        assert_eq!(tokens(200_000), "200k");
        assert_eq!(tokens(512), "512");
    }
}

//! The models the gateway serves: model groups (deployments sharing a `model_name`, in `order`)
//! and the profiles' tier maps used to resolve Claude Code's own model ids.
//!
//! Readers take a snapshot (`Arc` clone) and release the lock at once, so no lock is ever held
//! across an `.await` on the request path; writers (admin API, reload) swap in a new snapshot.

use crate::model::ModelDefinition;
use crate::providers::deployment::{DefinitionError, Deployment};
use crate::secrets::SecretSource;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Claude Code's three model tiers, as a profile maps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tiers {
    pub opus: String,
    pub sonnet: String,
    pub haiku: String,
}

impl Tiers {
    /// The tier model for a Claude model id (`claude-opus-4-8`, `claude-3-5-haiku-20241022`, `sonnet`).
    pub fn for_claude_id(&self, id: &str) -> Option<&str> {
        let id = id.to_ascii_lowercase();
        if id.contains("opus") {
            Some(&self.opus)
        } else if id.contains("sonnet") {
            Some(&self.sonnet)
        } else if id.contains("haiku") {
            Some(&self.haiku)
        } else {
            None
        }
    }
}

/// An immutable view of the served models.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    groups: HashMap<String, Vec<Arc<Deployment>>>,
    /// Group names in registration order (for listings).
    names: Vec<String>,
    profiles: HashMap<String, Tiers>,
    default_profile: Option<String>,
}

/// How a requested model name was resolved.
#[derive(Debug)]
pub struct Resolved {
    /// The group that serves it.
    pub group: String,
    pub deployments: Vec<Arc<Deployment>>,
}

impl Snapshot {
    /// Resolves a requested model: an exact group name; the same without a `[…]` suffix such as
    /// Claude Code's `[1m]`; or a Claude id mapped through the profile's tiers (DESIGN.md §4.2).
    pub fn resolve(&self, requested: &str, profile: Option<&str>) -> Option<Resolved> {
        let found = |name: &str| {
            self.groups.get(name).map(|d| Resolved {
                group: name.to_owned(),
                deployments: d.clone(),
            })
        };
        if let Some(r) = found(requested) {
            return Some(r);
        }
        let base = requested.split('[').next().unwrap_or(requested).trim();
        if let Some(r) = found(base) {
            return Some(r);
        }
        let tiers = match profile.or(self.default_profile.as_deref()) {
            Some(p) => self.profiles.get(p),
            None if self.profiles.len() == 1 => self.profiles.values().next(),
            None => None,
        }?;
        tiers.for_claude_id(base).and_then(found)
    }

    /// Group names, in registration order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn group(&self, name: &str) -> Option<&[Arc<Deployment>]> {
        self.groups.get(name).map(Vec::as_slice)
    }

    /// Every deployment, group by group.
    pub fn deployments(&self) -> impl Iterator<Item = &Arc<Deployment>> {
        self.names.iter().flat_map(|n| self.groups[n].iter())
    }
}

/// The live set of models.
#[derive(Debug, Default)]
pub struct Registry {
    current: RwLock<Arc<Snapshot>>,
}

impl Registry {
    /// Builds the registry from definitions; definitions that cannot be served are returned with
    /// their errors and left out.
    pub fn new(
        defs: Vec<ModelDefinition>,
        profiles: HashMap<String, Tiers>,
        default_profile: Option<String>,
        secrets: &dyn SecretSource,
    ) -> (Registry, Vec<DefinitionError>) {
        let mut snap = Snapshot {
            profiles,
            default_profile,
            ..Snapshot::default()
        };
        let errors = add_all(&mut snap, defs, secrets);
        (
            Registry {
                current: RwLock::new(Arc::new(snap)),
            },
            errors,
        )
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Adds deployments (a definition identical to a registered one is not added twice).
    pub fn add(
        &self,
        defs: Vec<ModelDefinition>,
        secrets: &dyn SecretSource,
    ) -> Vec<DefinitionError> {
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        let mut next = Snapshot::clone(&guard);
        let errors = add_all(&mut next, defs, secrets);
        *guard = Arc::new(next);
        errors
    }

    /// Removes a whole model group; returns whether it existed.
    pub fn remove_group(&self, name: &str) -> bool {
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        if !guard.groups.contains_key(name) {
            return false;
        }
        let mut next = Snapshot::clone(&guard);
        next.groups.remove(name);
        next.names.retain(|n| n != name);
        *guard = Arc::new(next);
        true
    }

    /// Sets the tier map of a profile.
    pub fn set_profile(&self, name: &str, tiers: Tiers) {
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        let mut next = Snapshot::clone(&guard);
        next.profiles.insert(name.to_owned(), tiers);
        *guard = Arc::new(next);
    }
}

fn add_all(
    snap: &mut Snapshot,
    defs: Vec<ModelDefinition>,
    secrets: &dyn SecretSource,
) -> Vec<DefinitionError> {
    let mut errors = Vec::new();
    for def in defs {
        let same = |d: &Arc<Deployment>| {
            serde_json::to_value(&d.definition.litellm_params).ok()
                == serde_json::to_value(&def.litellm_params).ok()
                && d.definition.litellm_params.api_key == def.litellm_params.api_key
        };
        if snap
            .groups
            .get(&def.model_name)
            .is_some_and(|g| g.iter().any(same))
        {
            continue;
        }
        match Deployment::new(def, secrets) {
            Ok(d) => {
                let name = d.model_name().to_owned();
                if !snap.groups.contains_key(&name) {
                    snap.names.push(name.clone());
                }
                let group = snap.groups.entry(name).or_default();
                group.push(Arc::new(d));
                group.sort_by_key(|d| d.definition.litellm_params.order.unwrap_or(u32::MAX));
            }
            Err(e) => errors.push(e),
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LitellmParams;

    fn def(name: &str, model: &str) -> ModelDefinition {
        ModelDefinition {
            model_name: name.into(),
            litellm_params: LitellmParams {
                model: model.into(),
                ..LitellmParams::default()
            },
            model_info: Default::default(),
        }
    }

    #[test]
    fn resolves_names_suffixes_and_claude_tiers() {
        let tiers = Tiers {
            opus: "big".into(),
            sonnet: "mid".into(),
            haiku: "small".into(),
        };
        let (reg, errs) = Registry::new(
            vec![
                def("big", "openai/a"),
                def("mid", "openai/b"),
                def("small", "openai/c"),
            ],
            [("p".to_owned(), tiers)].into(),
            None,
            &HashMap::new(),
        );
        assert!(errs.is_empty());
        let s = reg.snapshot();
        assert_eq!(s.resolve("mid", None).unwrap().group, "mid");
        assert_eq!(s.resolve("big[1m]", None).unwrap().group, "big");
        assert_eq!(
            s.resolve("claude-opus-4-8", Some("p")).unwrap().group,
            "big"
        );
        assert_eq!(
            s.resolve("claude-3-5-haiku-20241022", None).unwrap().group,
            "small"
        );
        assert!(s.resolve("claude-opus-4-8", Some("other")).is_none());
        assert!(s.resolve("gpt-9", Some("p")).is_none());
    }

    #[test]
    fn default_profile_resolves_claude_ids_when_the_request_names_none() {
        let a = Tiers {
            opus: "a".into(),
            sonnet: "a".into(),
            haiku: "a".into(),
        };
        let b = Tiers {
            opus: "b".into(),
            sonnet: "b".into(),
            haiku: "b".into(),
        };
        let defs = vec![def("a", "openai/a"), def("b", "openai/b")];
        let profiles: HashMap<String, Tiers> = [("pa".to_owned(), a), ("pb".to_owned(), b)].into();
        let (reg, _) = Registry::new(defs.clone(), profiles.clone(), None, &HashMap::new());
        assert!(
            reg.snapshot().resolve("claude-sonnet-4-5", None).is_none(),
            "two profiles, none chosen"
        );
        let (reg, _) = Registry::new(defs, profiles, Some("pb".into()), &HashMap::new());
        assert_eq!(
            reg.snapshot()
                .resolve("claude-sonnet-4-5", None)
                .unwrap()
                .group,
            "b"
        );
        assert_eq!(
            reg.snapshot()
                .resolve("claude-sonnet-4-5", Some("pa"))
                .unwrap()
                .group,
            "a"
        );
    }

    #[test]
    fn groups_keep_order_and_are_not_duplicated() {
        let mut a = def("g", "openai/a");
        a.litellm_params.order = Some(2);
        let mut b = def("g", "openai/b");
        b.litellm_params.order = Some(1);
        let (reg, _) = Registry::new(vec![a.clone(), b], HashMap::new(), None, &HashMap::new());
        reg.add(vec![a], &HashMap::new());
        let s = reg.snapshot();
        let g = s.group("g").unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].upstream_model, "b");
        assert!(reg.remove_group("g"));
        assert!(reg.snapshot().group("g").is_none());
    }
}

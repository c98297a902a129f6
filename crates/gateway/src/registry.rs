//! The models the gateway serves: model groups (deployments sharing a `model_name`, in `order`)
//! and the profiles' tier maps used to resolve Claude Code's own model ids.
//!
//! A defined model group is served whether or not it is registered; registration (by `enter`
//! through the admin API, at start from the state database, or by first use) decides what
//! `/v1/models` lists and what the janitor may release.
//!
//! A requested name that no group has is looked up, in this order: without a `[…]` suffix, as a
//! `model_group_alias` (LiteLLM's `router_settings.model_group_alias`), through the profile's
//! tiers, and last against the wildcard groups (`openai/*`, `claude-*`, `*`; [`wildcard`]).
//!
//! With a PostgreSQL `database_url`, registrations through the admin API are shared with the
//! other gateway instances on that database ([`shared`]).
//!
//! Readers take a snapshot (`Arc` clone) and release the lock at once, so no lock is ever held
//! across an `.await` on the request path; writers (admin API, reload) swap in a new snapshot.

use crate::model::ModelDefinition;
use crate::providers::deployment::{ApiKey, DefinitionError, Deployment, Origin};
use crate::secrets::SecretSource;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

pub mod shared;
mod wildcard;

/// Claude Code's three model tiers, as a profile maps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tiers {
    pub opus: String,
    pub sonnet: String,
    pub haiku: String,
    /// The profile's scenario rules (`router:`, issue 11 §3), which may send a request to
    /// another model by what it is ([`crate::router::scenario`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<crate::router::scenario::ScenarioRules>,
}

impl Tiers {
    /// The haiku tier's model when no other tier uses it: a request for it is the haiku tier's.
    pub fn distinct_haiku(&self) -> Option<&str> {
        (!self.haiku.is_empty() && self.haiku != self.sonnet && self.haiku != self.opus)
            .then_some(self.haiku.as_str())
    }

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

/// Told when a request uses a defined model that was not registered, so it can be leased.
/// Called on the request path: implementations must not block (hand the name to a channel).
pub trait LeaseSink: Send + Sync {
    fn leased(&self, model_name: &str);
}

/// Which defined models are registered when the gateway starts.
#[derive(Debug, Clone)]
pub enum Registered {
    /// Every definition (a plain LiteLLM-style `serve`).
    All,
    /// Only these groups (the managed gateway: the models leased in the state database).
    Only(Vec<String>),
}

/// An immutable view of the served models.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    groups: HashMap<String, Vec<Arc<Deployment>>>,
    /// Group names in definition order.
    names: Vec<String>,
    /// Groups registered (by `enter`, the admin API, use, or at start); `/v1/models` lists these.
    /// Defined groups that are not registered are still served, and registered on first use.
    registered: HashSet<String>,
    profiles: HashMap<String, Tiers>,
    default_profile: Option<String>,
    /// Keys the admin API gave, by deployment id: `enter` registers the configured models with
    /// keys from the user's shell, which the gateway's own environment may lack; a reload that
    /// defines the same deployment again uses them when it finds no key itself.
    given_keys: HashMap<String, ApiKey>,
    /// `model_group_alias`: a requested name → the group that serves it.
    aliases: HashMap<String, String>,
    /// The wildcard groups among `names`, rebuilt with every change ([`Snapshot::reindex`]).
    wildcards: wildcard::Wildcards,
}

/// How a requested model name was resolved.
#[derive(Debug)]
pub struct Resolved {
    /// The group that serves it.
    pub group: String,
    pub deployments: Vec<Arc<Deployment>>,
    /// Whether the group was registered.
    pub registered: bool,
}

impl Snapshot {
    /// Resolves a requested model: an exact group name; the same without a `[…]` suffix such as
    /// Claude Code's `[1m]`; a `model_group_alias`; a Claude id mapped through the profile's tiers
    /// (DESIGN.md §4.2); or a wildcard group, whose deployments are made for the name (module
    /// docs).
    pub fn resolve(&self, requested: &str, profile: Option<&str>) -> Option<Resolved> {
        let found = |name: &str| {
            self.groups.get(name).map(|d| Resolved {
                group: name.to_owned(),
                deployments: d.clone(),
                registered: self.registered.contains(name),
            })
        };
        if let Some(r) = found(requested) {
            return Some(r);
        }
        let base = requested.split('[').next().unwrap_or(requested).trim();
        if let Some(r) = found(base) {
            return Some(r);
        }
        for name in [requested, base] {
            if let Some(r) = self.aliases.get(name).and_then(|g| found(g)) {
                return Some(r);
            }
        }
        if let Some(r) = self
            .tiers(profile)
            .and_then(|t| t.for_claude_id(base))
            .and_then(found)
        {
            return Some(r);
        }
        let (group, deployments) = self
            .wildcards
            .serve(requested, &self.groups)
            .or_else(|| self.wildcards.serve(base, &self.groups))?;
        Some(Resolved {
            registered: self.registered.contains(&group),
            group,
            deployments,
        })
    }

    /// The tiers of `profile`, else of the default profile, else of the only profile.
    fn tiers(&self, profile: Option<&str>) -> Option<&Tiers> {
        match profile.or(self.default_profile.as_deref()) {
            Some(p) => self.profiles.get(p),
            None if self.profiles.len() == 1 => self.profiles.values().next(),
            None => None,
        }
    }

    /// The profile a request uses (chosen as for the tiers) with its scenario rules, when it has
    /// any: `None` for most profiles, so requests of those pay nothing for scenario routing.
    pub fn scenario_rules(
        &self,
        profile: Option<&str>,
    ) -> Option<(&str, &Tiers, &crate::router::scenario::ScenarioRules)> {
        let name = match profile.or(self.default_profile.as_deref()) {
            Some(p) => p,
            None if self.profiles.len() == 1 => self.profiles.keys().next()?,
            None => return None,
        };
        let (name, tiers) = self.profiles.get_key_value(name)?;
        let rules = tiers.router.as_ref()?;
        (!rules.is_empty()).then_some((name.as_str(), tiers, rules))
    }

    /// Rebuilds the wildcard index after the groups changed (a fresh, empty cache: deployments
    /// made for the old groups are not reused).
    fn reindex(&mut self) {
        self.wildcards = wildcard::Wildcards::index(self.names.iter());
    }

    /// Every defined group name, in definition order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Registered group names, in definition order.
    pub fn registered_names(&self) -> Vec<&str> {
        self.names
            .iter()
            .filter(|n| self.registered.contains(*n))
            .map(String::as_str)
            .collect()
    }

    pub fn is_registered(&self, name: &str) -> bool {
        self.registered.contains(name)
    }

    pub fn group(&self, name: &str) -> Option<&[Arc<Deployment>]> {
        self.groups.get(name).map(Vec::as_slice)
    }

    /// Every deployment, group by group.
    pub fn deployments(&self) -> impl Iterator<Item = &Arc<Deployment>> {
        self.names.iter().flat_map(|n| self.groups[n].iter())
    }

    /// The deployment with this id.
    pub fn deployment(&self, id: &str) -> Option<&Arc<Deployment>> {
        self.deployments().find(|d| d.id == id)
    }

    /// Adds `d`, replacing a deployment with the same id.
    fn insert(&mut self, d: Deployment) -> Arc<Deployment> {
        let name = d.model_name().to_owned();
        if !self.groups.contains_key(&name) {
            self.names.push(name.clone());
        }
        let group = self.groups.entry(name).or_default();
        let d = Arc::new(d);
        match group.iter_mut().find(|x| x.id == d.id) {
            Some(slot) => *slot = d.clone(),
            None => group.push(d.clone()),
        }
        group.sort_by_key(|d| d.route.order);
        d
    }

    /// Adds an already shared deployment (kept across a reload), after the group's others.
    fn insert_shared(&mut self, d: Arc<Deployment>) {
        let name = d.model_name().to_owned();
        if !self.groups.contains_key(&name) {
            self.names.push(name.clone());
        }
        let group = self.groups.entry(name).or_default();
        group.retain(|x| x.id != d.id);
        group.push(d);
        group.sort_by_key(|d| d.route.order);
    }

    fn drop_group_if_empty(&mut self, name: &str) {
        if self.groups.get(name).is_some_and(Vec::is_empty) {
            self.groups.remove(name);
            self.names.retain(|n| n != name);
            self.registered.remove(name);
        }
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
        registered: Registered,
        secrets: &dyn SecretSource,
    ) -> (Registry, Vec<DefinitionError>) {
        let mut snap = Snapshot {
            profiles,
            default_profile,
            ..Snapshot::default()
        };
        let mut errors = Vec::new();
        for def in defs {
            match Deployment::new(def, Origin::Config, secrets) {
                Ok(d) => {
                    snap.insert(d);
                }
                Err(e) => errors.push(e),
            }
        }
        snap.reindex();
        snap.registered = match registered {
            Registered::All => snap.names.iter().cloned().collect(),
            Registered::Only(names) => names
                .into_iter()
                .filter(|n| snap.groups.contains_key(n))
                .collect(),
        };
        let registry = Registry {
            current: RwLock::new(Arc::new(snap)),
        };
        (registry, errors)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Applies `f` to a copy of the snapshot and publishes it.
    fn update<R>(&self, f: impl FnOnce(&mut Snapshot) -> R) -> R {
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        let mut next = Snapshot::clone(&guard);
        let r = f(&mut next);
        next.reindex();
        *guard = Arc::new(next);
        r
    }

    /// Adds a deployment (replacing one with the same id) and registers its group.
    pub fn upsert(
        &self,
        def: ModelDefinition,
        secrets: &dyn SecretSource,
    ) -> Result<Arc<Deployment>, DefinitionError> {
        let mut d = Deployment::new(def, Origin::Admin, secrets)?;
        Ok(self.update(|s| {
            if let ApiKey::Value(_) = d.key {
                s.given_keys.insert(d.id.clone(), d.key.clone());
            }
            // Registering a configured deployment again (with a key) keeps it configured: it
            // stays defined when its lease ends.
            if s.deployment(&d.id)
                .is_some_and(|o| o.origin == Origin::Config)
            {
                d.origin = Origin::Config;
            }
            let d = s.insert(d);
            s.registered.insert(d.model_name().to_owned());
            d
        }))
    }

    /// Registers defined groups; returns those that were not registered before.
    pub fn register(&self, names: &[String]) -> Vec<String> {
        let snap = self.snapshot();
        let new: Vec<String> = names
            .iter()
            .filter(|n| snap.groups.contains_key(*n) && !snap.registered.contains(*n))
            .cloned()
            .collect();
        if !new.is_empty() {
            self.update(|s| s.registered.extend(new.iter().cloned()));
        }
        new
    }

    /// Replaces the `model_group_alias` map (alias → group). An alias naming a group that is not
    /// defined resolves to nothing, as in LiteLLM.
    pub fn set_aliases(&self, aliases: HashMap<String, String>) {
        self.update(|s| s.aliases = aliases);
    }

    /// Unregisters a group: its deployments added through the admin API go; definitions from
    /// configuration stay defined. Returns whether the group was registered.
    pub fn deregister(&self, name: &str) -> bool {
        self.update(|s| {
            let was = s.registered.remove(name);
            if let Some(g) = s.groups.get_mut(name) {
                g.retain(|d| d.origin == Origin::Config);
            }
            s.drop_group_if_empty(name);
            was
        })
    }

    /// Removes one deployment by id (a configured one is only unregistered). Returns its group.
    pub fn delete_deployment(&self, id: &str) -> Option<String> {
        self.update(|s| {
            let d = s.deployment(id)?.clone();
            let name = d.model_name().to_owned();
            if d.origin == Origin::Admin {
                if let Some(g) = s.groups.get_mut(&name) {
                    g.retain(|x| x.id != id);
                }
                s.drop_group_if_empty(&name);
            }
            if s.groups
                .get(&name)
                .is_none_or(|g| g.iter().all(|x| x.origin == Origin::Config))
            {
                s.registered.remove(&name);
            }
            Some(name)
        })
    }

    /// Publishes a new configuration in one swap (a reload): `deployments` (from the files, all
    /// [`Origin::Config`]) replace every model group they define, and the profiles and default
    /// profile are replaced. What the running gateway learned at run time is kept:
    /// - the registered set (leases), also for groups the new files no longer define, so a group
    ///   that comes back is still registered;
    /// - deployments added through the admin API to groups the files do not define;
    /// - the key the admin API gave a deployment that the files define again with the same id
    ///   (same model and endpoint), when the gateway itself cannot find that key (see
    ///   `Snapshot::given_keys`).
    ///
    /// Admin deployments of groups the files define under other ids are dropped: they were
    /// registered from an older version of the files.
    ///
    /// Returns the names of the groups whose definitions changed, were added or were removed.
    pub fn replace_config(
        &self,
        deployments: Vec<Deployment>,
        profiles: HashMap<String, Tiers>,
        default_profile: Option<String>,
    ) -> Vec<String> {
        self.update(|old| {
            let mut next = Snapshot {
                profiles,
                default_profile,
                registered: old.registered.clone(),
                given_keys: old.given_keys.clone(),
                aliases: old.aliases.clone(),
                ..Snapshot::default()
            };
            for mut d in deployments {
                if matches!(d.key, ApiKey::Missing { .. })
                    && let Some(given) = old.given_keys.get(&d.id)
                {
                    d.key = given.clone();
                }
                next.insert(d);
            }
            for name in &old.names {
                if next.groups.contains_key(name) {
                    continue;
                }
                for d in old.groups[name]
                    .iter()
                    .filter(|d| d.origin == Origin::Admin)
                {
                    next.insert_shared(d.clone());
                }
            }
            let shown = |s: &Snapshot, name: &str| -> Vec<String> {
                s.groups
                    .get(name)
                    .into_iter()
                    .flatten()
                    .map(|d| serde_json::to_string(&d.definition).unwrap_or_default())
                    .collect()
            };
            let mut changed: Vec<String> = next
                .names
                .iter()
                .filter(|n| shown(old, n) != shown(&next, n))
                .cloned()
                .collect();
            changed.extend(
                old.names
                    .iter()
                    .filter(|n| !next.groups.contains_key(*n))
                    .cloned(),
            );
            *old = next;
            changed
        })
    }
}

#[cfg(test)]
mod tests;

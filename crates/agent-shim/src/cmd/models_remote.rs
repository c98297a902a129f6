//! `agent-shim models list --remote <provider|profile> [--refresh] [--all] [--json]`: what a
//! provider serves, from its own model list (see [`crate::remote_models`]).
//!
//! A profile lists the endpoints its models use (each once, with the key of its first model
//! there), filtered by its `model_api_filters`; models on providers without a list (Bedrock, the
//! claude CLI, mocks) are named with the reason. A provider lists its default endpoint,
//! unfiltered. A name that is both is the profile (`provider:NAME` / `profile:NAME` choose).
//! `--all` also shows what the filters exclude, marked; it does not turn on a profile whose
//! filters are `[]`/`null`, which the command reports instead of loading anything.

use crate::cli::{ModelsListArgs, NetArgs};
use crate::error::{CliError, Result};
use crate::remote_models::{self, Endpoint, Loaded, NoList, RemoteModel};
use crate::settings::Settings;
use crate::settings::catalog;
use crate::settings::filters::ApiFilters;
use serde_json::{Value, json};
use std::process::ExitCode;

/// What `--remote` names.
struct Target {
    /// `profile 'x'` or `provider 'x'`.
    label: String,
    profile: Option<String>,
    filters: ApiFilters,
    /// Each endpoint with the profile's model names on it.
    endpoints: Vec<(Endpoint, Vec<String>)>,
    /// Profile models whose provider has no list.
    not_listed: Vec<(String, NoList)>,
}

pub fn run(a: ModelsListArgs) -> Result<ExitCode> {
    let settings = Settings::load(&NetArgs::default(), None)?;
    let name = a.remote.as_deref().unwrap_or_default();
    let target = resolve(&settings, name)?;
    if !target.filters.enabled() {
        let msg = format!(
            "{} sets model_api_filters to [] (or null): remote model loading is off for it, so \
             nothing was fetched or read from the cache; remove the key (every model) or list \
             glob patterns to turn it on",
            target.label
        );
        if a.json {
            let v = json!({"profile": target.profile, "model_api_filters": [],
                           "remote_loading": false, "message": msg, "endpoints": []});
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        } else {
            println!("{msg}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if target.endpoints.is_empty() {
        // One sentence per provider, naming its models.
        let mut by_provider: Vec<(&NoList, Vec<&str>)> = Vec::new();
        for (m, n) in &target.not_listed {
            match by_provider
                .iter_mut()
                .find(|(p, _)| p.provider == n.provider)
            {
                Some((_, models)) => models.push(m),
                None => by_provider.push((n, vec![m])),
            }
        }
        let why: Vec<String> = by_provider
            .iter()
            .map(|(n, models)| {
                let names: Vec<String> = models.iter().map(|m| format!("'{m}'")).collect();
                let (noun, verb) = if names.len() == 1 {
                    ("model", "is")
                } else {
                    ("models", "are")
                };
                format!(
                    "{noun} {} {verb} on {}: {}",
                    names.join(", "),
                    n.provider,
                    n.reason
                )
            })
            .collect();
        return Err(CliError::usage(format!(
            "{} has no model list to fetch: {}",
            target.label,
            why.join("; ")
        )));
    }
    // One endpoint that fails does not hide the others' lists; the command still fails.
    let mut loaded = Vec::new();
    let mut failed = Vec::new();
    for (e, names) in &target.endpoints {
        match remote_models::load(&settings, e, a.refresh) {
            Ok(l) => loaded.push((e, names, l)),
            Err(err) => failed.push(err),
        }
    }
    if loaded.is_empty()
        && let Some(first) = failed.first()
    {
        let rest: Vec<String> = failed[1..].iter().map(ToString::to_string).collect();
        let mut msg = first.to_string();
        if !rest.is_empty() {
            msg = format!("{msg}; {}", rest.join("; "));
        }
        return Err(CliError::with_code(msg, first.exit_code()));
    }
    if a.json {
        print_json(&target, &loaded, a.all);
    } else {
        print_table(&target, &loaded, a.all);
    }
    for err in &failed {
        eprintln!("agent-shim: {err}");
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Resolves `name`: `provider:X`, `profile:X`, else a profile, else a provider.
fn resolve(settings: &Settings, name: &str) -> Result<Target> {
    let profiles = catalog::load_profiles(settings)?;
    let (kind, bare) = match name.split_once(':') {
        Some(("provider", n)) => (Some("provider"), n),
        Some(("profile", n)) => (Some("profile"), n),
        _ => (None, name),
    };
    let is_profile = match kind {
        Some(k) => k == "profile",
        None => profiles.contains_key(bare) || gateway::provider(bare).is_none(),
    };
    if !is_profile {
        let e = remote_models::provider_endpoint(bare)?;
        return Ok(Target {
            label: format!("provider '{bare}'"),
            profile: None,
            filters: ApiFilters::CatchAll,
            endpoints: vec![(e, Vec::new())],
            not_listed: Vec::new(),
        });
    }
    let Some(p) = profiles.get(bare) else {
        let names: Vec<&str> = profiles.keys().map(String::as_str).collect();
        return Err(CliError::usage(format!(
            "--remote {name}: no such profile or provider; profiles: {}; providers: {}",
            names.join(", "),
            remote_models::provider_names().join(", ")
        )));
    };
    let label = format!("profile '{bare}' ({})", p.source);
    let mut target = Target {
        label,
        profile: Some(bare.to_owned()),
        filters: p.item.model_api_filters.clone(),
        endpoints: Vec::new(),
        not_listed: Vec::new(),
    };
    if !target.filters.enabled() {
        return Ok(target);
    }
    let models = catalog::load_models(settings)?;
    let defs = catalog::profile_models(&models, bare, p)?;
    let extra = p
        .item
        .model
        .iter()
        .flat_map(|m| models.iter().filter(move |d| d.item.model_name == *m))
        .map(|d| d.item.clone());
    for def in defs.into_iter().chain(extra) {
        match remote_models::endpoint_of(&def) {
            Ok(e) => {
                let path = e.cache_path(&settings.cache_dir);
                match target
                    .endpoints
                    .iter_mut()
                    .find(|(x, _)| x.cache_path(&settings.cache_dir) == path)
                {
                    Some((_, names)) if names.contains(&def.model_name) => {}
                    Some((_, names)) => names.push(def.model_name.clone()),
                    None => target.endpoints.push((e, vec![def.model_name.clone()])),
                }
            }
            Err(n) if !target.not_listed.iter().any(|(m, _)| *m == def.model_name) => {
                target.not_listed.push((def.model_name.clone(), n));
            }
            Err(_) => {}
        }
    }
    Ok(target)
}

/// The models to show: those the filters admit, and with `all` the others too.
fn shown<'a>(
    filters: &ApiFilters,
    l: &'a Loaded,
    all: bool,
) -> (Vec<(&'a RemoteModel, bool)>, usize) {
    let mut out = Vec::new();
    let mut excluded = 0;
    for m in &l.list.models {
        let ok = filters.admits(&m.id);
        if !ok {
            excluded += 1;
        }
        if ok || all {
            out.push((m, !ok));
        }
    }
    (out, excluded)
}

fn print_json(t: &Target, loaded: &[(&Endpoint, &Vec<String>, Loaded)], all: bool) {
    let endpoints: Vec<Value> = loaded
        .iter()
        .map(|(e, names, l)| {
            let (models, excluded) = shown(&t.filters, l, all);
            let models: Vec<Value> = models
                .into_iter()
                .map(|(m, ex)| {
                    let mut v = serde_json::to_value(m).unwrap_or_default();
                    v["display_name"] = json!(m.display_name.as_deref().unwrap_or(&m.id));
                    v["excluded"] = json!(ex);
                    v
                })
                .collect();
            json!({"provider": e.provider, "url": e.shown_url(), "model_names": names,
                   "fetched_at": l.list.fetched_at, "from_cache": l.from_cache,
                   "excluded": excluded, "models": models})
        })
        .collect();
    let not_listed: Vec<Value> = t
        .not_listed
        .iter()
        .map(|(m, n)| json!({"model_name": m, "provider": n.provider, "reason": n.reason}))
        .collect();
    let v = json!({"profile": t.profile, "model_api_filters": t.filters.to_json(),
                   "remote_loading": true, "endpoints": endpoints, "not_listed": not_listed});
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

fn print_table(t: &Target, loaded: &[(&Endpoint, &Vec<String>, Loaded)], all: bool) {
    let mut out = String::new();
    if let ApiFilters::Patterns(p) = &t.filters {
        out.push_str(&format!(
            "{}: model_api_filters {}\n",
            t.label,
            p.join(", ")
        ));
    }
    for (e, names, l) in loaded {
        let (models, excluded) = shown(&t.filters, l, all);
        let origin = if l.from_cache {
            format!(
                "cached {} (kept 12 h; --refresh fetches now)",
                age(remote_models::now().saturating_sub(l.list.fetched_at))
            )
        } else {
            "fetched now".to_owned()
        };
        let used_by = if names.is_empty() {
            String::new()
        } else {
            format!(" for {}", names.join(", "))
        };
        out.push_str(&format!(
            "\n{} at {}{used_by}, {origin}\n",
            e.provider,
            e.shown_url()
        ));
        let rows: Vec<[String; 6]> = models
            .iter()
            .map(|(m, ex)| {
                [
                    m.id.clone(),
                    m.display_name.clone().unwrap_or_default(),
                    m.context_window.map(thousands).unwrap_or_default(),
                    m.input_per_million.map(price).unwrap_or_default(),
                    m.output_per_million.map(price).unwrap_or_default(),
                    if *ex {
                        "excluded".into()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect();
        let head = ["ID", "NAME", "CONTEXT", "IN $/M", "OUT $/M", ""];
        let w: Vec<usize> = (0..6)
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([head[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for r in std::iter::once(head.map(str::to_owned)).chain(rows) {
            let line = format!(
                "{:<a$}  {:<b$}  {:>c$}  {:>d$}  {:>e$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                a = w[0],
                b = w[1],
                c = w[2],
                d = w[3],
                e = w[4]
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        let n = l.list.models.len();
        out.push_str(&match (excluded, all) {
            (0, _) => format!("{n} models\n"),
            (x, false) => format!(
                "{} of {n} models ({x} excluded by model_api_filters; --all shows them)\n",
                n - x
            ),
            (x, true) => format!("{n} models, {x} excluded by model_api_filters\n"),
        });
    }
    for (m, n) in &t.not_listed {
        out.push_str(&format!(
            "\nmodel '{m}' is on {}, which has no model list: {}\n",
            n.provider, n.reason
        ));
    }
    print!("{}", out.trim_start());
}

/// `131,072`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Dollars per million tokens: two decimals, three below a dime.
fn price(p: f64) -> String {
    if p > 0.0 && p < 0.1 {
        format!("{p:.3}")
    } else {
        format!("{p:.2}")
    }
}

fn age(secs: u64) -> String {
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        _ => format!("{} h ago", secs / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_the_table() {
        assert_eq!(thousands(131_072), "131,072");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(512), "512");
        assert_eq!(price(3.0), "3.00");
        assert_eq!(price(0.075), "0.075");
        assert_eq!(price(0.0), "0.00");
        assert_eq!(age(5), "just now");
        assert_eq!(age(600), "10 min ago");
        assert_eq!(age(7200), "2 h ago");
    }
}

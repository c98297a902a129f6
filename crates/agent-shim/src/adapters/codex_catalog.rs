//! Codex's model catalogue for one launch (issue 11 §4): a `model_catalog_json` file listing the
//! profile's models, so Codex knows their context windows (and compacts in time) instead of
//! warning "Model metadata for `X` not found. Defaulting to fallback metadata".
//!
//! Codex refuses a catalogue whose entries miss a field its version requires, and the set of
//! fields changes between versions. So the entries are built from the installed Codex's own
//! bundled catalogue (`codex debug models`, run once per Codex binary with an empty
//! `CODEX_HOME`, so no network and no user file is involved; cached in
//! `<cache dir>/codex/`):
//! - the fields every bundled entry has are the required ones; an entry gets exactly those;
//! - their values are those of Codex's own fallback metadata for unknown models (the default
//!   shell, no reasoning levels, no speed tiers, byte truncation at 10,000 …: see [`fallback`]),
//!   so a model behaves as it did before, except that Codex now knows its window;
//! - the instructions (`base_instructions`) come from the first listed bundled model without a
//!   `tool_mode` (the classic tool set), as nothing else can supply them.
//!
//! The window is the definition's `model_info.context_window`, else the one the remote model
//! cache knows (`agent-shim models list --remote`); a model with neither is listed without one
//! and `with` says so on stderr.

use super::Launch;
use crate::error::{CliError, Result};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `codex debug models` may take.
const TEMPLATE_TIMEOUT: Duration = Duration::from_secs(30);

/// Codex's fallback metadata for an unknown model (codex-rs `model_info_from_slug`): the value
/// of `field`, or `None` for a field it does not set (the template's value stays).
fn fallback(field: &str) -> Option<Value> {
    Some(match field {
        "default_reasoning_level"
        | "default_service_tier"
        | "availability_nux"
        | "upgrade"
        | "model_messages"
        | "default_verbosity"
        | "apply_patch_tool_type"
        | "auto_compact_token_limit"
        | "comp_hash" => Value::Null,
        "supported_reasoning_levels"
        | "additional_speed_tiers"
        | "service_tiers"
        | "experimental_supported_tools" => json!([]),
        "include_skills_usage_instructions"
        | "include_plugin_usage_instructions"
        | "include_apps_usage_instructions"
        | "supports_reasoning_summaries"
        | "support_verbosity"
        | "supports_parallel_tool_calls"
        | "supports_image_detail_original"
        | "supports_search_tool"
        | "supports_experimental_context"
        | "supports_reasoning_effort_updates"
        | "use_responses_lite"
        | "node_repl_auto_review_required"
        | "node_repl_disabled" => json!(false),
        "supported_in_api" => json!(true),
        "shell_type" => json!("default"),
        "visibility" => json!("list"),
        "default_reasoning_summary" => json!("auto"),
        "web_search_tool_type" => json!("text"),
        "truncation_policy" => json!({"mode": "bytes", "limit": 10_000}),
        "effective_context_window_percent" => json!(95),
        "input_modalities" => json!(["text", "image"]),
        _ => return None,
    })
}

/// One model of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogModel {
    /// The id Codex sends.
    pub slug: String,
    /// The profile's model name.
    pub name: String,
    /// The upstream model (`litellm_params.model`), for the description.
    pub upstream: String,
    pub context_window: Option<u64>,
}

/// The models of the launch's catalogue: the launch model first, then the profile's others.
pub fn models(l: &Launch) -> Vec<CatalogModel> {
    let mut names: Vec<&str> = vec![l.model.as_str()];
    for n in l.profile_models() {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let mut out: Vec<CatalogModel> = Vec::new();
    for name in names {
        let slug = l.endpoint.model_id(name).to_owned();
        if out.iter().any(|m| m.slug == slug) {
            continue;
        }
        let upstream = l
            .models
            .iter()
            .find(|m| m.item.model_name == name)
            .map_or_else(String::new, |m| m.item.litellm_params.model.clone());
        out.push(CatalogModel {
            slug,
            name: name.to_owned(),
            upstream,
            context_window: l.known_window(name),
        });
    }
    out
}

/// The skeleton of an entry: Codex's required fields with their values from its own catalogue
/// (`catalog` is `codex debug models`' output). `None` when it holds no model.
pub fn skeleton(catalog: &Value) -> Option<Map<String, Value>> {
    let entries: Vec<&Map<String, Value>> = catalog["models"]
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .collect();
    let first = entries.first()?;
    let template = entries
        .iter()
        .filter(|m| m.get("visibility").and_then(Value::as_str) == Some("list"))
        .filter(|m| m.get("tool_mode").is_none_or(Value::is_null))
        .min_by_key(|m| {
            m.get("priority")
                .and_then(Value::as_i64)
                .unwrap_or(i64::MAX)
        })
        .unwrap_or(first);
    let mut out = Map::new();
    for (k, v) in template.iter() {
        if entries.iter().all(|m| m.contains_key(k)) {
            out.insert(k.clone(), v.clone());
        }
    }
    Some(out)
}

/// The catalogue (`{"models": […]}`) for `models`, from `skeleton`.
pub fn catalog(skeleton: &Map<String, Value>, profile: &str, models: &[CatalogModel]) -> Value {
    let entries: Vec<Value> = models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut e = skeleton.clone();
            for (k, v) in e.iter_mut() {
                if let Some(f) = fallback(k) {
                    *v = f;
                }
            }
            e.insert("slug".into(), json!(m.slug));
            e.insert("display_name".into(), json!(m.name));
            let via = if m.upstream.is_empty() {
                format!("through agent-shim (profile {profile})")
            } else {
                format!("{} through agent-shim (profile {profile})", m.upstream)
            };
            e.insert("description".into(), json!(via));
            e.insert("priority".into(), json!(i));
            match m.context_window {
                Some(w) => {
                    e.insert("context_window".into(), json!(w));
                    e.insert("max_context_window".into(), json!(w));
                }
                None => {
                    e.remove("context_window");
                    e.remove("max_context_window");
                }
            }
            Value::Object(e)
        })
        .collect();
    json!({ "models": entries })
}

/// Writes the launch's catalogue and returns its path, or `None` (with a note on stderr) when
/// the installed Codex cannot give a template.
pub fn write(l: &Launch, program: &Path) -> Result<Option<PathBuf>> {
    // A wrapper given `--agent codex` is not asked for `debug models`; the Codex on PATH is.
    let codex = if super::Agent::from_command(program) == super::Agent::Codex {
        program
    } else {
        Path::new("codex")
    };
    let skeleton = match template(l.cache_dir, codex) {
        Ok(s) => s,
        Err(why) => {
            eprintln!(
                "agent-shim: no model catalogue for Codex ({why}); Codex may warn \"Model \
                 metadata for … not found\" and gets the context window through \
                 model_context_window only"
            );
            return Ok(None);
        }
    };
    let models = models(l);
    for m in models.iter().filter(|m| m.context_window.is_none()) {
        eprintln!(
            "agent-shim: Codex gets no context window for model '{}': set its \
             model_info.context_window, or cache its provider's list with `agent-shim models \
             list --remote {}`",
            m.name, l.profile_name
        );
    }
    let text = serde_json::to_string_pretty(&catalog(&skeleton, l.profile_name, &models))
        .expect("a catalogue serialises");
    let path = l.generated_dir("catalog")?.join("model_catalog.json");
    crate::atomic_file::write(&path, text.as_bytes())
        .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
    Ok(Some(path))
}

/// The skeleton for the Codex at `program`: cached per binary (path, size, modification time),
/// else from `codex debug models`.
fn template(cache_dir: &Path, program: &Path) -> std::result::Result<Map<String, Value>, String> {
    let exe = resolve(program).ok_or_else(|| format!("{} not found", program.display()))?;
    let meta = std::fs::metadata(&exe).map_err(|e| format!("{}: {e}", exe.display()))?;
    let stamp = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let key = {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(format!("{}\0{}\0{stamp}", exe.display(), meta.len()).as_bytes());
        d[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let cached = cache_dir.join("codex").join(format!("skeleton-{key}.json"));
    if let Some(Value::Object(s)) = std::fs::read_to_string(&cached)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
    {
        return Ok(s);
    }
    let catalog = bundled_catalog(&exe, cached.parent().expect("in a directory"))?;
    let s = skeleton(&catalog).ok_or("`codex debug models` listed no model")?;
    // A cache that cannot be written only costs the next launch another `debug models`.
    let _ = crate::atomic_file::write(
        &cached,
        serde_json::to_string(&s)
            .expect("a skeleton serialises")
            .as_bytes(),
    );
    Ok(s)
}

/// `program` as a path: itself when it names a directory, else found on PATH.
fn resolve(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// `codex debug models` with an empty, temporary `CODEX_HOME` under `work` (the bundled
/// catalogue), removed afterwards.
fn bundled_catalog(exe: &Path, work: &Path) -> std::result::Result<Value, String> {
    let home = work.join(format!("home-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).map_err(|e| format!("cannot create {}: {e}", home.display()))?;
    let result = run_debug_models(exe, &home);
    let _ = std::fs::remove_dir_all(&home);
    result
}

fn run_debug_models(exe: &Path, home: &Path) -> std::result::Result<Value, String> {
    let out_path = home.join("models.json");
    let out = std::fs::File::create(&out_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(["debug", "models"])
        .env("CODEX_HOME", home)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {} debug models: {e}", exe.display()))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > TEMPLATE_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{} debug models` did not finish in {} s",
                    exe.display(),
                    TEMPLATE_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    };
    if !status.success() {
        return Err(format!(
            "`{} debug models` failed ({status}); this Codex may predate model catalogues",
            exe.display()
        ));
    }
    let text = std::fs::read_to_string(&out_path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text)
        .map_err(|e| format!("`{} debug models` printed no JSON: {e}", exe.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled() -> Value {
        json!({"models": [
            {"slug": "gpt-new", "visibility": "list", "priority": 1, "tool_mode": "code_mode_only",
             "base_instructions": "new", "shell_type": "unified_exec", "context_window": 272000,
             "max_context_window": 872000, "truncation_policy": {"mode": "tokens", "limit": 1},
             "extra_required": 7, "model_specialty": "cyber"},
            {"slug": "gpt-classic", "visibility": "list", "priority": 13,
             "base_instructions": "classic", "shell_type": "unified_exec", "context_window": 272000,
             "max_context_window": 272000, "truncation_policy": {"mode": "tokens", "limit": 1},
             "extra_required": 8},
            {"slug": "hidden", "visibility": "hide", "priority": 0, "base_instructions": "h",
             "shell_type": "local", "context_window": 1, "max_context_window": 1,
             "truncation_policy": {"mode": "tokens", "limit": 1}, "extra_required": 9}
        ]})
    }

    #[test]
    fn skeleton_keeps_required_fields_of_the_classic_listed_model() {
        let s = skeleton(&bundled()).unwrap();
        assert_eq!(s["base_instructions"], "classic");
        assert_eq!(
            s["extra_required"], 8,
            "unknown required fields keep Codex's own value"
        );
        assert!(
            !s.contains_key("tool_mode") && !s.contains_key("model_specialty"),
            "fields some entries lack are optional and left out: {s:?}"
        );
        assert!(skeleton(&json!({"models": []})).is_none());
    }

    #[test]
    fn entries_carry_fallback_values_and_the_window() {
        let s = skeleton(&bundled()).unwrap();
        let models = [
            CatalogModel {
                slug: "fast".into(),
                name: "fast".into(),
                upstream: "groq/llama".into(),
                context_window: Some(131_072),
            },
            CatalogModel {
                slug: "odd".into(),
                name: "odd".into(),
                upstream: String::new(),
                context_window: None,
            },
        ];
        let c = catalog(&s, "p", &models);
        let e = &c["models"][0];
        assert_eq!(e["slug"], "fast");
        assert_eq!(e["priority"], 0);
        assert_eq!(e["context_window"], 131_072);
        assert_eq!(e["max_context_window"], 131_072);
        assert_eq!(e["shell_type"], "default");
        assert_eq!(
            e["truncation_policy"],
            json!({"mode": "bytes", "limit": 10000})
        );
        assert_eq!(e["base_instructions"], "classic");
        assert!(e["description"].as_str().unwrap().contains("groq/llama"));
        assert!(
            e.get("supports_search_tool").is_none(),
            "only required fields"
        );
        let odd = &c["models"][1];
        assert!(odd.get("context_window").is_none() && odd.get("max_context_window").is_none());
        assert_eq!(odd["priority"], 1);
    }
}

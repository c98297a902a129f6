//! The gateway's router settings from config.yaml: LiteLLM's `router_settings`, and the same
//! keys under `litellm_settings` (where LiteLLM also reads `num_retries`, `request_timeout` and
//! the fallback lists).
//!
//! Precedence, highest first, key by key:
//!
//! | setting | read from |
//! |---|---|
//! | retries | `router_settings.num_retries` > `litellm_settings.num_retries` > 2 |
//! | wait for an answer to begin | `litellm_params.timeout` (per deployment) > `router_settings.timeout` > `router_settings.request_timeout` > `litellm_settings.request_timeout` > `litellm_settings.timeout` > 600 s |
//! | silence inside a stream | `litellm_params.stream_timeout` (per deployment) > `router_settings.stream_timeout` > `litellm_settings.stream_timeout` > 300 s |
//! | `fallbacks`, `context_window_fallbacks`, `content_policy_fallbacks`, `default_fallbacks`, `max_fallbacks`, `allowed_fails`, `cooldown_time`, `disable_cooldowns`, `routing_strategy`, `enable_pre_call_checks`, `default_max_parallel_requests`, `deployment_affinity_ttl_seconds` | `router_settings` > `litellm_settings` > LiteLLM's default |
//!
//! A `routing_strategy` agent-shim does not implement is named in a warning (the gateway then
//! routes with `simple-shuffle`); keys that are not router keys are named by the LiteLLM key
//! checker ([`super::litellm`], with their line). `model_group_alias` is read where model names
//! are resolved, not here.

use super::config_file::{ConfigFile, RouterKeys};
use crate::error::{CliError, Result};
use gateway::{RouterSettings, RoutingStrategy, Timeouts};
use std::time::Duration;

/// The keys read here, under `router_settings` and `litellm_settings` alike (the fields of
/// [`RouterKeys`]): what a checker of LiteLLM keys counts as implemented.
pub const ROUTER_KEYS: &[&str] = &[
    "num_retries",
    "timeout",
    "request_timeout",
    "stream_timeout",
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "default_fallbacks",
    "max_fallbacks",
    "allowed_fails",
    "cooldown_time",
    "disable_cooldowns",
    "routing_strategy",
    "enable_pre_call_checks",
    "default_max_parallel_requests",
    "deployment_affinity_ttl_seconds",
];

/// What config.yaml says about routing.
#[derive(Debug)]
pub struct Router {
    pub settings: RouterSettings,
    pub timeouts: Timeouts,
    /// One line per setting that is not honoured, naming the file and the key.
    pub warnings: Vec<String>,
}

/// The router settings of `config` (read from `origin`, which errors and warnings name).
/// Errors: a number of seconds that is negative or not finite.
pub fn router(config: &ConfigFile, origin: &str) -> Result<Router> {
    let empty = RouterKeys::default();
    let r = config.router_settings.as_ref().unwrap_or(&empty);
    let l = config
        .litellm_settings
        .as_ref()
        .map_or(&empty, |l| &l.router);
    let mut s = RouterSettings::default();
    let mut timeouts = Timeouts::default();
    let mut warnings = Vec::new();
    let secs = |v: Option<f64>, key: &str| -> Result<Option<Duration>> {
        match v {
            None => Ok(None),
            Some(v) if v.is_finite() && v >= 0.0 => Ok(Some(Duration::from_secs_f64(v))),
            Some(v) => Err(CliError::usage(format!(
                "{origin}: {key} is {v}; expected a number of seconds of at least 0"
            ))),
        }
    };
    // Each value with the key it came from, for the errors.
    let pick = |rv: Option<f64>, rk: &'static str, lv: Option<f64>, lk: &'static str| {
        rv.map(|v| (v, rk)).or(lv.map(|v| (v, lk)))
    };
    s.num_retries = r.num_retries.or(l.num_retries).unwrap_or(s.num_retries);
    let first_byte = pick(
        r.timeout,
        "router_settings.timeout",
        r.request_timeout,
        "router_settings.request_timeout",
    )
    .or(pick(
        l.request_timeout,
        "litellm_settings.request_timeout",
        l.timeout,
        "litellm_settings.timeout",
    ));
    if let Some((v, key)) = first_byte
        && let Some(d) = secs(Some(v), key)?
    {
        // Less than a second would refuse every real answer: a second at least.
        timeouts.first_byte = d.max(Duration::from_secs(1));
    }
    let idle = pick(
        r.stream_timeout,
        "router_settings.stream_timeout",
        l.stream_timeout,
        "litellm_settings.stream_timeout",
    );
    if let Some((v, key)) = idle
        && let Some(d) = secs(Some(v), key)?
    {
        timeouts.idle = d.max(Duration::from_secs(1));
    }
    if let Some(f) = r.fallbacks.as_ref().or(l.fallbacks.as_ref()) {
        s.fallbacks = f.clone();
    }
    if let Some(f) = r
        .context_window_fallbacks
        .as_ref()
        .or(l.context_window_fallbacks.as_ref())
    {
        s.context_window_fallbacks = f.clone();
    }
    if let Some(f) = r
        .content_policy_fallbacks
        .as_ref()
        .or(l.content_policy_fallbacks.as_ref())
    {
        s.content_policy_fallbacks = f.clone();
    }
    if let Some(f) = r
        .default_fallbacks
        .as_ref()
        .or(l.default_fallbacks.as_ref())
    {
        s.default_fallbacks = f.clone();
    }
    if let Some(n) = r.max_fallbacks.or(l.max_fallbacks) {
        s.max_fallbacks = n as usize;
    }
    s.allowed_fails = r
        .allowed_fails
        .or(l.allowed_fails)
        .unwrap_or(s.allowed_fails);
    let cooldown = pick(
        r.cooldown_time,
        "router_settings.cooldown_time",
        l.cooldown_time,
        "litellm_settings.cooldown_time",
    );
    if let Some((v, key)) = cooldown
        && let Some(d) = secs(Some(v), key)?
    {
        s.cooldown_time = d;
    }
    s.disable_cooldowns = r
        .disable_cooldowns
        .or(l.disable_cooldowns)
        .unwrap_or(s.disable_cooldowns);
    if let Some(name) = r.routing_strategy.as_ref().or(l.routing_strategy.as_ref()) {
        match RoutingStrategy::parse(name) {
            Some(strategy) => s.routing_strategy = strategy,
            None => warnings.push(format!(
                "{origin}: routing_strategy '{name}' is not implemented (agent-shim has \
                 simple-shuffle, least-busy, latency-based-routing, usage-based-routing-v2); \
                 simple-shuffle is used"
            )),
        }
    }
    s.enable_pre_call_checks = r
        .enable_pre_call_checks
        .or(l.enable_pre_call_checks)
        .unwrap_or(s.enable_pre_call_checks);
    s.default_max_parallel_requests = r
        .default_max_parallel_requests
        .or(l.default_max_parallel_requests)
        .filter(|n| *n > 0);
    let ttl = pick(
        r.deployment_affinity_ttl_seconds,
        "router_settings.deployment_affinity_ttl_seconds",
        l.deployment_affinity_ttl_seconds,
        "litellm_settings.deployment_affinity_ttl_seconds",
    );
    if let Some((v, key)) = ttl
        && let Some(d) = secs(Some(v), key)?
    {
        s.session_ttl = d;
    }
    Ok(Router {
        settings: s,
        timeouts,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Router> {
        let c: ConfigFile = crate::settings::yaml::parse(text, "config.yaml").unwrap();
        router(&c, "config.yaml")
    }

    #[test]
    fn router_settings_win_over_litellm_settings() {
        let r = load(
            r#"
router_settings:
  num_retries: 4
  routing_strategy: least-busy
  fallbacks: [{"a": ["b"]}]
  allowed_fails: 1
  cooldown_time: 30
  redis_host: localhost
  routing_strategy_args: {ttl: 10}
litellm_settings:
  num_retries: 9
  request_timeout: 42
  stream_timeout: 7
  fallbacks: [{"z": ["y"]}]
  context_window_fallbacks: [{"a": ["big"]}]
  default_fallbacks: ["d"]
  drop_params: true
"#,
        )
        .unwrap();
        let s = &r.settings;
        assert_eq!(s.num_retries, 4);
        assert_eq!(s.routing_strategy, RoutingStrategy::LeastBusy);
        assert_eq!(s.fallbacks.of("a"), Some(&["b".to_owned()][..]));
        assert_eq!(s.fallbacks.of("z"), None);
        assert_eq!(
            s.context_window_fallbacks.of("a"),
            Some(&["big".to_owned()][..])
        );
        assert_eq!(s.default_fallbacks, ["d"]);
        assert_eq!(s.allowed_fails, 1);
        assert_eq!(s.cooldown_time, Duration::from_secs(30));
        assert_eq!(r.timeouts.first_byte, Duration::from_secs(42));
        assert_eq!(r.timeouts.idle, Duration::from_secs(7));
        // Other keys are the LiteLLM key checker's to name, not this module's.
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn every_listed_key_is_a_field() {
        for key in ROUTER_KEYS {
            let c: ConfigFile = crate::settings::yaml::parse(
                &format!("router_settings:\n  {key}: null\nlitellm_settings:\n  {key}: null\n"),
                "config.yaml",
            )
            .unwrap();
            assert!(c.router_settings.unwrap().other.is_empty(), "{key}");
            assert!(c.litellm_settings.unwrap().router.other.is_empty(), "{key}");
        }
    }

    #[test]
    fn unknown_strategy_warns_and_bad_seconds_fail_naming_the_key() {
        let r = load("router_settings:\n  routing_strategy: cost-based-routing\n").unwrap();
        assert_eq!(r.settings.routing_strategy, RoutingStrategy::SimpleShuffle);
        assert!(r.warnings[0].contains("'cost-based-routing' is not implemented"));
        let e = load("router_settings:\n  timeout: -3\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("config.yaml: router_settings.timeout is -3"),
            "{e}"
        );
        let e = load("litellm_settings:\n  cooldown_time: -1\n").unwrap_err();
        assert!(
            e.to_string().contains("litellm_settings.cooldown_time"),
            "{e}"
        );
        let r = load("port: 4444\n").unwrap();
        assert_eq!(r.settings.num_retries, 2);
        assert!(r.warnings.is_empty());
    }
}

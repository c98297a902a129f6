//! What the router reads of one model definition (`order`, `weight`, `rpm`, `tpm`,
//! `max_parallel_requests`, `timeout`, `stream_timeout`, the input window), read once when the
//! deployment is built and kept in it ([`crate::providers::deployment::Deployment::route`]).

use super::slot::Limits;
use crate::model::ModelDefinition;
use std::time::Duration;

/// The routing facts of a deployment, read from `litellm_params` (and `model_info`, where
/// LiteLLM also reads `rpm`/`tpm`) once, at registration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteParams {
    /// `order`; unset sorts last.
    pub order: u32,
    /// `weight`: share of the group's traffic under `simple-shuffle`.
    pub weight: Option<f64>,
    /// `rpm`, `tpm`, `max_parallel_requests`.
    pub limits: Limits,
    /// `timeout`: wait for the answer's headers.
    pub timeout: Option<Duration>,
    /// `stream_timeout`: silence tolerated inside an answer.
    pub stream_timeout: Option<Duration>,
    /// `model_info.max_input_tokens` (or `context_window`).
    pub max_input_tokens: Option<u64>,
}

impl RouteParams {
    /// The routing facts of `def`.
    pub fn of(def: &ModelDefinition) -> RouteParams {
        let p = &def.litellm_params;
        let info = |k: &str| {
            def.model_info.other.get(k).and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_u64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
        };
        let secs = |s: Option<f64>| {
            s.filter(|s| s.is_finite() && *s > 0.0)
                .map(|s| Duration::from_secs_f64(s.max(0.001)))
        };
        RouteParams {
            order: p.order.unwrap_or(u32::MAX),
            weight: p.weight,
            limits: Limits {
                rpm: p.rpm.or_else(|| info("rpm")),
                tpm: p.tpm.or_else(|| info("tpm")),
                max_parallel: p.max_parallel_requests,
            },
            timeout: secs(p.timeout),
            stream_timeout: secs(p.stream_timeout),
            max_input_tokens: def.model_info.context_window,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litellm_params_first_then_model_info_and_unset_order_last() {
        let def: ModelDefinition = serde_json::from_value(serde_json::json!({
            "model_name": "m",
            "litellm_params": {"model": "openai/x", "tpm": 500, "weight": 3, "timeout": 0,
                               "stream_timeout": 2.5, "max_parallel_requests": 4},
            "model_info": {"rpm": "60", "tpm": 9, "max_input_tokens": 8000}
        }))
        .unwrap();
        let r = RouteParams::of(&def);
        assert_eq!(r.order, u32::MAX);
        assert_eq!(r.weight, Some(3.0));
        assert_eq!(
            r.limits,
            Limits {
                rpm: Some(60),
                tpm: Some(500),
                max_parallel: Some(4)
            }
        );
        // 0 is no timeout of its own (the gateway's applies).
        assert_eq!(r.timeout, None);
        assert_eq!(r.stream_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(r.max_input_tokens, Some(8000));
    }
}

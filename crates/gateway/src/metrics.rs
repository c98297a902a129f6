//! `GET /metrics` (issue 12 §4): the gateway's counters in the Prometheus text format (0.0.4),
//! through prometheus-client.
//!
//! - Per finished request ([`Metrics::observe`], from its [`ledger::UsageRecord`]): requests,
//!   errors by class, tokens by kind, cost (USD), unpriced requests, retries, fallbacks, and
//!   latency / time-to-first-byte histograms. Labels: `model_group`, `provider`,
//!   `client_protocol`, `profile` (and `status_class`, `error_class` or `kind` where named) —
//!   never a request, session or directory id. Each label takes at most [`MAX_VALUES`] distinct
//!   values (a client-sent profile cannot grow the series without bound); later ones are
//!   counted under `other`.
//! - Per stream, when it ends ([`Metrics::inter_chunk`]): the mean gap between the chunks sent to
//!   the client (one observation per stream, so no lock is taken per chunk).
//! - At scrape time ([`Metrics::render`]), from the gateway's state: requests in flight, models
//!   defined and registered (leased), deployments and those cooling down per group, records
//!   the ledger's queue dropped, and the price table's version.
//!
//! Updates are atomic increments after one hash lookup per family; label values are interned
//! `Arc<str>`s, so an observation allocates nothing once its label set has been seen.

use crate::state::GatewayState;
use ledger::UsageRecord;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Distinct values one label keeps before further ones are counted as `other`.
pub const MAX_VALUES: usize = 256;

/// The `Content-Type` of the body [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The labels every per-request series carries.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub model_group: Arc<str>,
    pub provider: Arc<str>,
    pub client_protocol: Arc<str>,
    pub profile: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    #[prometheus(flatten)]
    request: RequestLabels,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    #[prometheus(flatten)]
    request: RequestLabels,
    error_class: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    #[prometheus(flatten)]
    request: RequestLabels,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    model_group: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

/// `2xx`, `3xx`, `4xx`, `5xx`, or `other` (no status, or outside 100–599).
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// A counter of USD kept as whole picodollars (exact, as the ledger keeps cost) and shown in
/// USD: one division at scrape time, no float accumulation.
#[derive(Debug, Clone, Default)]
pub struct UsdCounter(Arc<AtomicI64>);

impl UsdCounter {
    /// Adds `pico` picodollars.
    pub fn add_pico(&self, pico: i64) {
        self.0.fetch_add(pico, Ordering::Relaxed);
    }

    /// The total in picodollars.
    pub fn pico(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl TypedMetric for UsdCounter {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for UsdCounter {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // Both operands are exact below 2^53 pUSD (9,007 USD), so IEEE division gives the double
        // nearest the exact decimal, which prints as that decimal.
        let usd = self.pico() as f64 / 1e12;
        encoder.encode_counter::<NoLabelSet, _, u64>(&usd, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// Label values seen so far, bounded ([`MAX_VALUES`]): lookups by `&str` under a read lock.
#[derive(Debug)]
struct Interner {
    seen: RwLock<HashMap<Box<str>, Arc<str>>>,
    empty: Arc<str>,
    other: Arc<str>,
}

impl Interner {
    fn new() -> Interner {
        Interner {
            seen: RwLock::new(HashMap::new()),
            empty: Arc::from(""),
            other: Arc::from("other"),
        }
    }

    fn get(&self, value: Option<&str>) -> Arc<str> {
        let Some(v) = value.filter(|v| !v.is_empty()) else {
            return self.empty.clone();
        };
        if let Some(a) = self.seen.read().unwrap_or_else(|p| p.into_inner()).get(v) {
            return a.clone();
        }
        let mut seen = self.seen.write().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = seen.get(v) {
            return a.clone();
        }
        if seen.len() >= MAX_VALUES || v.len() > 200 {
            return self.other.clone();
        }
        let a: Arc<str> = Arc::from(v);
        seen.insert(v.into(), a.clone());
        a
    }
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 50 ms … ~205 s.
    Histogram::new(exponential_buckets(0.05, 2.0, 13))
}

fn ttfb_histogram() -> Histogram {
    // 10 ms … ~82 s.
    Histogram::new(exponential_buckets(0.01, 2.0, 14))
}

/// The gateway's metrics (module docs). One per gateway, in [`crate::Ledger::metrics`].
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Held while the scrape-time gauges are set and the body is encoded (no `.await`).
    scrape: Mutex<u64>,
    values: [Interner; 5],
    requests: Family<StatusLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<RequestLabels, UsdCounter>,
    unpriced: Family<RequestLabels, Counter>,
    retries: Family<RequestLabels, Counter>,
    fallbacks: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RequestLabels>,
    ttfb: HistogramFamily<RequestLabels>,
    inter_chunk: Histogram,
    in_flight: Gauge,
    models_defined: Gauge,
    models_registered: Gauge,
    deployments: Gauge,
    cooling: Family<GroupLabels, Gauge>,
    ledger_dropped: Counter,
    ledger_dropped_seen: AtomicU64,
    price_table: Family<VersionLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty metrics, registered under the prefix `agent_shim_`.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("agent_shim");
        let m = Metrics {
            registry: Registry::default(),
            scrape: Mutex::new(0),
            values: std::array::from_fn(|_| Interner::new()),
            requests: Family::default(),
            errors: Family::default(),
            tokens: Family::default(),
            cost: Family::default(),
            unpriced: Family::default(),
            retries: Family::default(),
            fallbacks: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            ttfb: Family::new_with_constructor(ttfb_histogram),
            // 1 ms … ~16 s.
            inter_chunk: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            in_flight: Gauge::default(),
            models_defined: Gauge::default(),
            models_registered: Gauge::default(),
            deployments: Gauge::default(),
            cooling: Family::default(),
            ledger_dropped: Counter::default(),
            ledger_dropped_seen: AtomicU64::new(0),
            price_table: Family::default(),
        };
        let r = &mut registry;
        r.register(
            "requests",
            "Client requests finished, by final status class",
            m.requests.clone(),
        );
        r.register(
            "errors",
            "Client requests that failed, by error class",
            m.errors.clone(),
        );
        r.register(
            "tokens",
            "Tokens by kind: input (the whole prompt, cached parts included), output (reasoning included), reasoning, cache_read, cache_write_5m, cache_write_1h",
            m.tokens.clone(),
        );
        r.register(
            "cost_usd",
            "Cost in USD of the priced requests",
            m.cost.clone(),
        );
        r.register(
            "unpriced_requests",
            "Requests whose model has no price (cost unknown)",
            m.unpriced.clone(),
        );
        r.register(
            "retries",
            "Upstream attempts after a request's first (retries and fallbacks)",
            m.retries.clone(),
        );
        r.register(
            "fallbacks",
            "Requests served by a fallback model group",
            m.fallbacks.clone(),
        );
        r.register(
            "request_duration_seconds",
            "From a request's arrival to its response's end",
            m.latency.clone(),
        );
        r.register(
            "time_to_first_byte_seconds",
            "From a request's arrival to the first byte sent to the client",
            m.ttfb.clone(),
        );
        r.register(
            "stream_inter_chunk_seconds",
            "Mean gap between the chunks of a stream sent to a client, one observation per stream",
            m.inter_chunk.clone(),
        );
        r.register(
            "requests_in_flight",
            "Generation requests in flight",
            m.in_flight.clone(),
        );
        r.register(
            "models_defined",
            "Model groups defined",
            m.models_defined.clone(),
        );
        r.register(
            "models_registered",
            "Model groups registered (leased, or registered through the admin API)",
            m.models_registered.clone(),
        );
        r.register("deployments", "Deployments defined", m.deployments.clone());
        r.register(
            "deployments_cooling_down",
            "Deployments out of rotation after failures, by model group",
            m.cooling.clone(),
        );
        r.register(
            "ledger_dropped_records",
            "Usage records lost: the ledger's queue was full, or the store was down and the writer's backlog full",
            m.ledger_dropped.clone(),
        );
        r.register(
            "price_table",
            "The price table that prices requests (1, labelled with its version)",
            m.price_table.clone(),
        );
        Metrics { registry, ..m }
    }

    fn labels(&self, r: &UsageRecord) -> RequestLabels {
        RequestLabels {
            model_group: self.values[0].get(r.model_group.as_deref()),
            provider: self.values[1].get(r.provider.as_deref()),
            client_protocol: self.values[2].get(Some(&r.client_protocol)),
            profile: self.values[3].get(r.profile.as_deref()),
        }
    }

    /// Counts one finished request from its record (module docs).
    pub fn observe(&self, r: &UsageRecord) {
        let request = self.labels(r);
        self.requests
            .get_or_create(&StatusLabels {
                request: request.clone(),
                status_class: status_class(r.status),
            })
            .inc();
        if r.status >= 400 || r.error_class.is_some() {
            let error_class =
                self.values[4].get(Some(r.error_class.as_deref().unwrap_or("unknown")));
            self.errors
                .get_or_create(&ErrorLabels {
                    request: request.clone(),
                    error_class,
                })
                .inc();
        }
        let t = &r.tokens;
        for (kind, n) in [
            ("input", t.input),
            ("output", t.output),
            ("reasoning", t.reasoning),
            ("cache_read", t.cache_read),
            ("cache_write_5m", t.cache_write_5m),
            ("cache_write_1h", t.cache_write_1h),
        ] {
            if n > 0 {
                self.tokens
                    .get_or_create(&TokenLabels {
                        request: request.clone(),
                        kind,
                    })
                    .inc_by(n);
            }
        }
        match r.cost_pico_usd {
            Some(pico) => self.cost.get_or_create(&request).add_pico(pico),
            None => {
                self.unpriced.get_or_create(&request).inc();
            }
        }
        if r.attempts > 1 {
            self.retries
                .get_or_create(&request)
                .inc_by(u64::from(r.attempts - 1));
        }
        if r.route.as_deref() == Some("fallback") {
            self.fallbacks.get_or_create(&request).inc();
        }
        self.latency
            .get_or_create(&request)
            .observe(r.latency_us.max(0) as f64 / 1e6);
        if let Some(ttfb) = r.ttfb_us {
            self.ttfb
                .get_or_create(&request)
                .observe(ttfb.max(0) as f64 / 1e6);
        }
    }

    /// Records a stream's mean gap between the chunks sent to its client (once per stream).
    pub fn inter_chunk(&self, gap: Duration) {
        self.inter_chunk.observe(gap.as_secs_f64());
    }

    /// The body of `GET /metrics`: the counters, and the gauges read from `gw` now.
    pub fn render(&self, gw: &GatewayState) -> String {
        let mut scrape = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        *scrape += 1;
        self.in_flight
            .set(gw.in_flight.count().try_into().unwrap_or(i64::MAX));
        let snap = gw.registry.snapshot();
        self.models_defined.set(snap.names().len() as i64);
        self.models_registered
            .set(snap.registered_names().len() as i64);
        let now = crate::router::now_ms();
        let mut deployments = 0;
        self.cooling.clear();
        for name in snap.names() {
            let group = snap.group(name).unwrap_or_default();
            deployments += group.len() as i64;
            let cooling = group
                .iter()
                .filter(|d| gw.routing.slot(d).cooling(now).is_some())
                .count() as i64;
            if cooling > 0 {
                let model_group = self.values[0].get(Some(name));
                self.cooling
                    .get_or_create(&GroupLabels { model_group })
                    .set(cooling);
            }
        }
        self.deployments.set(deployments);
        if let Some(sender) = &gw.ledger.sender {
            let dropped = sender.lost();
            let seen = self.ledger_dropped_seen.swap(dropped, Ordering::Relaxed);
            self.ledger_dropped.inc_by(dropped.saturating_sub(seen));
        }
        let version = gw.ledger.prices.version();
        if self
            .price_table
            .get_or_create(&VersionLabels {
                version: version.to_owned(),
            })
            .get()
            != 1
        {
            self.price_table.clear();
            self.price_table
                .get_or_create(&VersionLabels {
                    version: version.to_owned(),
                })
                .set(1);
        }
        let mut body = String::with_capacity(16 * 1024);
        if prometheus_client::encoding::prometheus_text::encode(&mut body, &self.registry).is_err()
        {
            tracing::error!("the metrics could not be encoded");
        }
        body
    }
}

/// `GET /metrics` (behind the master key when one is set, like the API).
pub async fn handler(
    axum::extract::State(gw): axum::extract::State<Arc<GatewayState>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = gw.ledger.metrics.render(&gw);
    ([(http::header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        for (s, c) in [
            (200, "2xx"),
            (299, "2xx"),
            (301, "3xx"),
            (404, "4xx"),
            (429, "4xx"),
            (499, "4xx"),
            (502, "5xx"),
            (529, "5xx"),
            (0, "other"),
            (600, "other"),
        ] {
            assert_eq!(status_class(s), c, "{s}");
        }
    }

    #[test]
    fn label_values_are_interned_and_bounded() {
        let i = Interner::new();
        let a = i.get(Some("sonnet"));
        assert!(
            Arc::ptr_eq(&a, &i.get(Some("sonnet"))),
            "the same Arc, no new allocation"
        );
        assert_eq!(&*i.get(None), "");
        assert_eq!(&*i.get(Some("")), "");
        for n in 0..MAX_VALUES * 2 {
            i.get(Some(&format!("profile-{n}")));
        }
        assert_eq!(i.seen.read().unwrap().len(), MAX_VALUES);
        assert_eq!(&*i.get(Some("one-too-many")), "other");
        assert_eq!(
            &*i.get(Some("sonnet")),
            "sonnet",
            "values seen before keep their label"
        );
        assert_eq!(&*i.get(Some(&"x".repeat(300))), "other");
    }

    #[test]
    fn a_record_maps_to_its_labels_and_counts() {
        let m = Metrics::new();
        let r = UsageRecord {
            model_group: Some("sonnet".into()),
            provider: Some("anthropic".into()),
            client_protocol: "anthropic".into(),
            profile: None,
            status: 529,
            error_class: Some("overloaded".into()),
            attempts: 3,
            request_id: "must-not-appear".into(),
            session_id: Some("must-not-appear-either".into()),
            directory: Some("0123456789abcdef".into()),
            ..UsageRecord::default()
        };
        m.observe(&r);
        let mut body = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut body, &m.registry).unwrap();
        let labels =
            r#"model_group="sonnet",provider="anthropic",client_protocol="anthropic",profile="""#;
        for line in [
            format!("agent_shim_requests_total{{{labels},status_class=\"5xx\"}} 1"),
            format!("agent_shim_errors_total{{{labels},error_class=\"overloaded\"}} 1"),
            format!("agent_shim_retries_total{{{labels}}} 2"),
            format!("agent_shim_unpriced_requests_total{{{labels}}} 1"),
        ] {
            assert!(body.lines().any(|l| l == line), "{line}\nnot in\n{body}");
        }
        for secret in ["must-not-appear", "0123456789abcdef"] {
            assert!(!body.contains(secret), "{body}");
        }
    }
}

//! Fetching one endpoint's model list and normalising what providers say about each model.
//!
//! Requests: OpenAI-compatible lists get `Authorization: Bearer <key>`; Anthropic's gets
//! `x-api-key` and `anthropic-version: 2023-06-01` and is paged (`limit=1000`, `after_id`) while
//! `has_more`. A definition's `extra_headers` are sent too. Errors name the provider, the URL
//! (credentials redacted) and, for 401/403, where the key comes from; an upstream's message is
//! shown with any key it echoes removed.
//!
//! Normalisation, per entry of `data` (the fields providers are known to use):
//! - display name: `display_name` (Anthropic), `name` (OpenRouter, Together);
//! - context window: `context_window` (Groq), `context_length` (OpenRouter, Together,
//!   Fireworks), `top_provider.context_length`, `max_context_length` (Mistral), `max_model_len`
//!   (vLLM), `max_input_tokens` (Anthropic);
//! - price: OpenRouter's `pricing.prompt` / `pricing.completion` are dollars per token (strings),
//!   Together's `pricing.input` / `pricing.output` dollars per million; negative prices
//!   (OpenRouter's variable-price routers) are unknown.

use super::{Endpoint, RemoteModel};
use crate::error::{CliError, Result};
use gateway::Protocol;
use serde_json::Value;
use std::time::Duration;

/// Pages of Anthropic's list fetched at most (1,000 models each).
const MAX_PAGES: usize = 20;

/// One fetch's inputs.
pub struct Request<'a> {
    pub endpoint: &'a Endpoint,
    pub key: Option<&'a str>,
    /// Where the key comes from, in words (for 401/403).
    pub key_source: String,
    pub headers: &'a [(reqwest::header::HeaderName, reqwest::header::HeaderValue)],
}

/// Fetches and normalises the whole list.
pub async fn fetch(r: &Request<'_>) -> Result<Vec<RemoteModel>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| CliError::failed(format!("cannot make an HTTP client: {e}")))?;
    let e = r.endpoint;
    let mut models = Vec::new();
    let mut after: Option<String> = None;
    let base = reqwest::Url::parse(&e.list_url()).map_err(|err| {
        CliError::usage(format!(
            "{}'s model list URL {} is not valid ({err}); fix api_base",
            e.provider,
            e.shown_url()
        ))
    })?;
    for _ in 0..MAX_PAGES {
        let mut url = base.clone();
        if e.protocol == Protocol::Anthropic {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", "1000");
            if let Some(a) = &after {
                q.append_pair("after_id", a);
            }
        }
        let mut req = client.get(url);
        if e.protocol == Protocol::Anthropic {
            req = req.header("anthropic-version", "2023-06-01");
            if let Some(k) = r.key {
                req = req.header("x-api-key", k);
            }
        } else if let Some(k) = r.key {
            req = req.bearer_auth(k);
        }
        for (name, value) in r.headers {
            req = req.header(name, value);
        }
        let body = send(r, req).await?;
        let page = normalise(&body).ok_or_else(|| {
            CliError::failed(format!(
                "{}'s model list at {} answered with something that is not a model list \
                 (no `data` array); is api_base right?",
                e.provider,
                e.shown_url()
            ))
        })?;
        models.extend(page);
        match (
            e.protocol,
            body["has_more"].as_bool(),
            body["last_id"].as_str(),
        ) {
            (Protocol::Anthropic, Some(true), Some(last)) => after = Some(last.to_owned()),
            _ => break,
        }
    }
    Ok(models)
}

/// Sends one request; the JSON body of a success, or the error to show.
async fn send(r: &Request<'_>, req: reqwest::RequestBuilder) -> Result<Value> {
    let e = r.endpoint;
    let url = e.shown_url();
    let secrets: Vec<&str> = r.key.into_iter().collect();
    let clean = |s: &str| -> String {
        let s = gateway::redact::urls_in(s).into_owned();
        gateway::redact::known(&s, &secrets).into_owned()
    };
    let resp = req.send().await.map_err(|err| {
        let why = if err.is_timeout() {
            "it did not answer in time".to_owned()
        } else if err.is_connect() {
            format!("cannot connect ({})", clean(&root_cause(&err)))
        } else {
            clean(&root_cause(&err))
        };
        CliError::failed(format!(
            "cannot fetch {}'s model list from {url}: {why}; check api_base (litellm_params.api_base \
             of model '{}', or the provider's default) and your network",
            e.provider, e.definition.model_name
        ))
    })?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        return serde_json::from_str(&text).map_err(|_| {
            CliError::failed(format!(
                "{}'s model list at {url} answered {status} with a body that is not JSON; is \
                 api_base right?",
                e.provider
            ))
        });
    }
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            v["error"]["message"]
                .as_str()
                .or(v["error"].as_str())
                .or(v["message"].as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| text.chars().take(200).collect());
    let message = clean(message.trim());
    let hint = match status.as_u16() {
        401 | 403 => format!("; {}", r.key_source),
        404 => "; this endpoint may not list models (or api_base is wrong)".to_owned(),
        _ => String::new(),
    };
    Err(CliError::failed(format!(
        "{}'s model list at {url} answered {status}: {message}{hint}",
        e.provider
    )))
}

/// The innermost error's text (reqwest's own message is only "error sending request").
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The models of one list body (`{"data": [...]}`), or `None` when it is not a list.
pub fn normalise(body: &Value) -> Option<Vec<RemoteModel>> {
    let data = body["data"].as_array()?;
    Some(data.iter().filter_map(normalise_one).collect())
}

fn normalise_one(m: &Value) -> Option<RemoteModel> {
    let id = m["id"].as_str()?.trim();
    if id.is_empty() {
        return None;
    }
    let display_name = ["display_name", "name"]
        .iter()
        .find_map(|k| m[*k].as_str())
        .map(str::trim)
        .filter(|n| !n.is_empty() && *n != id)
        .map(str::to_owned);
    let context_window = [
        &m["context_window"],
        &m["context_length"],
        &m["top_provider"]["context_length"],
        &m["max_context_length"],
        &m["max_model_len"],
        &m["max_input_tokens"],
    ]
    .into_iter()
    .find_map(number)
    .filter(|w| *w >= 1.0)
    .map(|w| w as u64);
    let pricing = &m["pricing"];
    let per_token = |v: &Value| number(v).filter(|p| *p >= 0.0).map(|p| p * 1e6);
    let per_million = |v: &Value| number(v).filter(|p| *p >= 0.0);
    let input_per_million =
        per_token(&pricing["prompt"]).or_else(|| per_million(&pricing["input"]));
    let output_per_million =
        per_token(&pricing["completion"]).or_else(|| per_million(&pricing["output"]));
    Some(RemoteModel {
        id: id.to_owned(),
        display_name,
        context_window,
        input_per_million,
        output_per_million,
    })
}

/// A number, or a string holding one (OpenRouter writes prices as strings).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_openrouter_together_groq_and_anthropic_shapes() {
        let body = json!({"object": "list", "data": [
            {"id": "gpt-5", "object": "model", "created": 1, "owned_by": "openai"},
            {"id": "anthropic/claude-sonnet-4.5", "name": "Anthropic: Claude Sonnet 4.5",
             "context_length": 1000000, "pricing": {"prompt": "0.000003", "completion": "0.000015"}},
            {"id": "openrouter/auto", "name": "Auto Router", "context_length": 2000000,
             "pricing": {"prompt": "-1", "completion": "-1"}},
            {"id": "meta-llama/Llama-3.3-70B", "display_name": "Llama 3.3 70B",
             "context_length": 131072, "pricing": {"input": 0.88, "output": 0.88}},
            {"id": "llama-3.1-8b-instant", "context_window": 131072},
            {"id": "mistral-large", "max_context_length": 131072},
            {"id": "claude-opus-4-6", "type": "model", "display_name": "Claude Opus 4.6",
             "max_input_tokens": 200000},
            {"object": "model"},
            {"id": ""}
        ]});
        let m = normalise(&body).unwrap();
        assert_eq!(m.len(), 7, "entries without an id are skipped: {m:?}");
        assert_eq!(m[0].display_name, None);
        assert_eq!((m[0].context_window, m[0].input_per_million), (None, None));
        assert_eq!(
            m[1].display_name.as_deref(),
            Some("Anthropic: Claude Sonnet 4.5")
        );
        assert_eq!(m[1].context_window, Some(1_000_000));
        assert!((m[1].input_per_million.unwrap() - 3.0).abs() < 1e-9);
        assert!((m[1].output_per_million.unwrap() - 15.0).abs() < 1e-9);
        assert_eq!(
            (m[2].input_per_million, m[2].output_per_million),
            (None, None)
        );
        assert_eq!(m[3].input_per_million, Some(0.88));
        assert_eq!(m[4].context_window, Some(131_072));
        assert_eq!(m[5].context_window, Some(131_072));
        assert_eq!(m[6].context_window, Some(200_000));
        assert!(normalise(&json!({"models": []})).is_none());
    }
}

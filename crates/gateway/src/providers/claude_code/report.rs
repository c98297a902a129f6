//! What a run's stdout says besides the answer's content (field-2026-11.md §3.3): a refused
//! login (`system`/`api_retry` 401/403), an exhausted subscription window (`rate_limit_event`
//! with status `rejected`), and the `result` line's verdict, usage and `total_cost_usd`. Shared by
//! the streaming [`super::lines::Mapper`] and the collecting [`super::lines::Whole`].

use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// The shortest `retry-after` (seconds) given for an exhausted window: above Claude Code's 60 s
/// limit, so Claude-Code-style clients give up at once instead of retrying for minutes
/// (field-2026-11.md §2.9).
pub const MIN_WINDOW_RETRY_AFTER: u64 = 61;

/// Why a run gave no answer: its words, the API status the CLI saw, and for an exhausted window
/// the seconds until it resets.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub message: String,
    pub api_status: Option<u16>,
    pub retry_after: Option<u64>,
}

/// What the run reported, gathered line by line.
#[derive(Debug, Default)]
pub struct Report {
    /// Set by a failed `result`, a refused login or an exhausted window.
    pub failure: Option<Failure>,
    /// The answer's text, all text blocks concatenated (what a client sends back as the
    /// assistant turn; the session key of the next turn is made from it).
    pub text: String,
    /// `result.total_cost_usd`.
    pub cost_usd: Option<f64>,
    /// Whether the `result` line was read.
    pub finished: bool,
}

impl Report {
    /// Reads the `result` line.
    pub fn result(&mut self, v: &Value) {
        self.finished = true;
        self.cost_usd = v["total_cost_usd"].as_f64().filter(|c| c.is_finite());
        if self.failure.is_none() {
            self.failure = failure_of(v);
        }
    }

    /// Whether the run answered in full: a `result` without failure.
    pub fn succeeded(&self) -> bool {
        self.finished && self.failure.is_none()
    }
}

/// One stdout line as JSON; `None` for a blank line. The error names the line.
pub fn parse(line: &[u8]) -> Result<Option<Value>, String> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(line).map(Some).map_err(|e| {
        let end = line.len().min(200);
        let shown = String::from_utf8_lossy(&line[..end]);
        format!("the CLI wrote a line that is not JSON ({e}): {shown}")
    })
}

/// The Anthropic usage object of a `result` line.
pub fn usage_of(result: &Value) -> Value {
    let u = &result["usage"];
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    json!({
        "input_tokens": n("input_tokens"),
        "output_tokens": n("output_tokens"),
        "cache_read_input_tokens": n("cache_read_input_tokens"),
        "cache_creation_input_tokens": n("cache_creation_input_tokens"),
    })
}

/// The failure a `result` line reports, if it does.
pub fn failure_of(result: &Value) -> Option<Failure> {
    if !result["is_error"].as_bool().unwrap_or(false) {
        return None;
    }
    let mut message = result["result"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            result["errors"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_default();
    if message.is_empty() {
        message = format!(
            "the CLI reported {}",
            result["subtype"].as_str().unwrap_or("an error")
        );
    }
    Some(Failure {
        message,
        api_status: result["api_error_status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok()),
        retry_after: None,
    })
}

/// A `system` `api_retry` line for a refused login (401/403): the CLI would retry it ten times
/// with backoff, so it ends the run at once.
pub fn auth_retry(v: &Value) -> Option<Failure> {
    if v["type"] != "system" || v["subtype"] != "api_retry" {
        return None;
    }
    let status = v["error_status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok());
    let auth = matches!(status, Some(401 | 403)) || v["error"] == "authentication_failed";
    auth.then(|| Failure {
        message: format!(
            "the Anthropic API refused the CLI's credentials ({} {})",
            status.map_or_else(String::new, |s| s.to_string()),
            v["error"].as_str().unwrap_or("authentication_failed")
        ),
        api_status: Some(401),
        retry_after: None,
    })
}

/// A `rate_limit_event` whose window is used up (`status: "rejected"`): a 429 whose
/// `retry-after` is the time until `resetsAt` (Unix seconds; milliseconds are recognised), at
/// least [`MIN_WINDOW_RETRY_AFTER`]. Other statuses (`allowed`, `allowed_warning`) are `None`.
pub fn rate_limited(v: &Value) -> Option<Failure> {
    if v["type"] != "rate_limit_event" {
        return None;
    }
    let info = &v["rate_limit_info"];
    if info["status"] != "rejected" {
        return None;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let resets = info["resetsAt"].as_f64().map(|r| {
        let secs = if r > 1e11 { r / 1000.0 } else { r };
        secs.max(0.0) as u64
    });
    let wait = resets.map_or(0, |r| r.saturating_sub(now));
    let window = info["rateLimitType"].as_str().unwrap_or("usage");
    let when = match resets {
        Some(_) => format!("it resets in {}", human(wait)),
        None => "the CLI did not say when it resets".to_owned(),
    };
    Some(Failure {
        message: format!("the Claude subscription's {window} limit is used up; {when}"),
        api_status: Some(429),
        retry_after: Some(wait.max(MIN_WINDOW_RETRY_AFTER)),
    })
}

fn human(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn an_exhausted_window_is_a_429_retrying_after_its_reset() {
        let v = json!({"type": "rate_limit_event", "rate_limit_info": {
            "status": "rejected", "resetsAt": now() + 3 * 3600, "rateLimitType": "five_hour"}});
        let f = rate_limited(&v).unwrap();
        assert_eq!(f.api_status, Some(429));
        let wait = f.retry_after.unwrap();
        assert!((3 * 3600 - 5..=3 * 3600).contains(&wait), "{wait}");
        assert!(f.message.contains("five_hour"), "{}", f.message);
        assert!(f.message.contains("2 h 59 min") || f.message.contains("3 h 0 min"));
    }

    #[test]
    fn a_window_resetting_soon_still_waits_longer_than_claude_code_retries() {
        let ms = (now() + 5) * 1000;
        let v = json!({"type": "rate_limit_event", "rate_limit_info": {
            "status": "rejected", "resetsAt": ms, "rateLimitType": "seven_day"}});
        assert_eq!(
            rate_limited(&v).unwrap().retry_after,
            Some(MIN_WINDOW_RETRY_AFTER)
        );
    }

    #[test]
    fn an_allowed_window_is_no_failure() {
        for status in ["allowed", "allowed_warning"] {
            let v = json!({"type": "rate_limit_event",
                "rate_limit_info": {"status": status, "resetsAt": now() + 60}});
            assert_eq!(rate_limited(&v), None);
        }
    }

    #[test]
    fn the_result_gives_the_cost_and_the_verdict() {
        let mut r = Report::default();
        r.result(&json!({"type": "result", "is_error": false, "total_cost_usd": 0.002577}));
        assert_eq!(r.cost_usd, Some(0.002577));
        assert!(r.succeeded());
        let mut r = Report::default();
        r.result(&json!({"type": "result", "is_error": true, "errors": ["No conversation found"]}));
        assert!(!r.succeeded());
        assert_eq!(r.failure.unwrap().message, "No conversation found");
    }
}

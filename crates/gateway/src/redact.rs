//! What may be shown of a secret: nothing. One rule set for everything the gateway and the CLI
//! display — `GET /model/info`, error bodies, the log, `Debug` output, `models show`,
//! `profiles show`, `status` — so a definition's credentials never leave the process that uses
//! them. Redacted are:
//!
//! - URL credentials: the password of `scheme://user:password@host` (the whole userinfo when it
//!   has no password, as in `https://TOKEN@host`) and query values whose name says secret
//!   (`?key=…`, Gemini's style);
//! - header values (`extra_headers` may carry any credential);
//! - parameters whose name says secret ([`is_secret_name`]): key, token, secret, password,
//!   credential…, and every `aws_*` / `vertex_*` parameter but the region, location and project;
//! - known secret values echoed back in an upstream's message ([`known`]).
//!
//! Numbers and booleans are shown whatever their name (`input_cost_per_token` is not a token).

use serde_json::Value;
use std::borrow::Cow;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Words that make a name a secret's, compared to each word of the name (`_`, `-`, `.` and
/// camelCase split it): `api_key`, `aws_session_token`, `clientSecret`, `db-password`.
const SECRET_WORDS: &[&str] = &[
    "key",
    "apikey",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "credential",
    "credentials",
    "auth",
    "authorization",
    "cookie",
];

/// `aws_*` / `vertex_*` parameters that locate rather than authenticate; every other one is
/// treated as a credential (LiteLLM's Bedrock and Vertex parameter lists).
const CLOUD_LOCATORS: &[&str] = &[
    "aws_region_name",
    "vertex_location",
    "vertex_project",
    "vertex_ai_location",
    "vertex_ai_project",
];

/// Whether `name` (a parameter, header, query or variable name) says its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("aws_") || lower.starts_with("vertex_") {
        return !CLOUD_LOCATORS.contains(&lower.as_str());
    }
    words(name).iter().any(|w| {
        SECRET_WORDS.contains(&w.as_str())
            || ["key", "token", "secret", "password"]
                .iter()
                .any(|s| w.len() > s.len() && w.ends_with(s))
            || ["secret", "password", "passwd", "credential"]
                .iter()
                .any(|s| w.contains(s))
    })
}

/// The lower-case words of a name: split at `_`, `-`, `.`, spaces and lower-to-upper changes.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if matches!(c, '_' | '-' | '.' | ' ') {
            out.extend((!cur.is_empty()).then(|| std::mem::take(&mut cur)));
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    out.extend((!cur.is_empty()).then_some(cur));
    out
}

/// One URL with its credentials replaced: `http://u:p@h/x?key=k` → `http://u:[redacted]@h/x?key=[redacted]`.
/// A malformed URL is handled too (`u:p@h/v1`, `http//u:p@h`: what precedes an `@` in the
/// host part is taken as userinfo). Text without credentials is returned as is.
pub fn url(s: &str) -> Cow<'_, str> {
    let authority_end = |from: usize| {
        s[from..]
            .find(['/', '?', '#'])
            .map_or(s.len(), |j| from + j)
    };
    let (start, end) = match s.find("://") {
        Some(i) => (i + 3, authority_end(i + 3)),
        None => match s.find('@') {
            Some(at) => (s[..at].rfind('/').map_or(0, |j| j + 1), authority_end(at)),
            None => (0, 0),
        },
    };
    let authority = &s[start..end];
    let mut changed = false;
    let mut out = String::with_capacity(s.len() + REDACTED.len());
    out.push_str(&s[..start]);
    match authority.rfind('@') {
        Some(at) => {
            changed = true;
            if let Some((user, _)) = authority[..at].split_once(':') {
                out.push_str(user);
                out.push(':');
            }
            out.push_str(REDACTED);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let rest = &s[end..];
    match rest.find('?') {
        Some(q) => {
            out.push_str(&rest[..=q]);
            let (query, fragment) = match rest[q + 1..].split_once('#') {
                Some((query, f)) => (query, Some(f)),
                None => (&rest[q + 1..], None),
            };
            for (n, pair) in query.split('&').enumerate() {
                if n > 0 {
                    out.push('&');
                }
                match pair.split_once('=') {
                    Some((k, v)) if !v.is_empty() && is_secret_name(k) => {
                        changed = true;
                        out.push_str(k);
                        out.push('=');
                        out.push_str(REDACTED);
                    }
                    _ => out.push_str(pair),
                }
            }
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
        }
        None => out.push_str(rest),
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    }
}

/// Free text with every URL in it passed through [`url`] (for messages that quote URLs).
pub fn urls_in(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let scheme_start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |j| j + 1);
        let len = rest[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(rest.len() - i, |n| n);
        let end = i + len;
        out.push_str(&rest[..scheme_start]);
        out.push_str(&url(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

/// A parameter's value as it may be shown: redacted when `name` says secret (unless it is a
/// number, boolean or null), every value redacted in a map named `*headers*`, otherwise
/// [`value`].
pub fn param(name: &str, v: &Value) -> Value {
    if is_secret_name(name) {
        return match v {
            Value::Null | Value::Bool(_) | Value::Number(_) => v.clone(),
            _ => Value::String(REDACTED.into()),
        };
    }
    match v {
        Value::Object(m) if name.to_ascii_lowercase().contains("header") => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let shown = if x.is_null() {
                        Value::Null
                    } else {
                        Value::String(REDACTED.into())
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        _ => value(v),
    }
}

/// A value as it may be shown: object members through [`param`], strings through [`urls_in`].
pub fn value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(urls_in(s).into_owned()),
        Value::Array(a) => Value::Array(a.iter().map(value).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), param(k, x))).collect())
        }
        other => other.clone(),
    }
}

/// Shortest secret value [`known`] looks for: shorter strings occur in ordinary text.
pub const MIN_KNOWN_LEN: usize = 6;

/// `text` with every occurrence of one of `secrets` (of at least [`MIN_KNOWN_LEN`] bytes)
/// replaced, then its URLs redacted: for an upstream's message, which may echo the key it was
/// sent ("Incorrect API key provided: sk-…") or the URL it was called at.
pub fn known<'a>(text: &'a str, secrets: &[&str]) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for s in secrets.iter().filter(|s| s.len() >= MIN_KNOWN_LEN) {
        if out.contains(s) {
            out = Cow::Owned(out.replace(s, REDACTED));
        }
    }
    match urls_in(&out) {
        Cow::Borrowed(_) => out,
        Cow::Owned(o) => Cow::Owned(o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names() {
        for n in [
            "api_key",
            "aws_secret_access_key",
            "aws_access_key_id",
            "aws_session_token",
            "aws_role_name",
            "vertex_credentials",
            "clientSecret",
            "db-password",
            "x-api-key",
            "Authorization",
            "azure_ad_token",
            "accessToken",
            "GITHUB_TOKEN",
            "private_key",
            "apikey",
            "key",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "max_tokens",
            "model",
            "rpm",
            "aws_region_name",
            "vertex_project",
            "vertex_location",
            "api_base",
            "reasoning_effort",
            "monkeys",
            "tokenizer_name",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn url_credentials_are_redacted() {
        assert_eq!(
            url("http://user:pa55@host:8/v1?x=1"),
            "http://user:[redacted]@host:8/v1?x=1"
        );
        assert_eq!(url("https://TOKEN@host/v1"), "https://[redacted]@host/v1");
        assert_eq!(
            url("https://h/v1beta?key=AIza123&alt=sse#f"),
            "https://h/v1beta?key=[redacted]&alt=sse#f"
        );
        assert!(matches!(url("https://h/v1"), Cow::Borrowed(_)));
        assert_eq!(url("not a url"), "not a url");
        assert_eq!(url("u:pw@h:1/v1"), "u:[redacted]@h:1/v1");
        assert_eq!(url("http//u:pw@h/v1"), "http//u:[redacted]@h/v1");
        assert_eq!(
            url("http://h/a@b"),
            "http://h/a@b",
            "an @ in the path is not userinfo"
        );
        assert_eq!(
            urls_in("cannot reach http://u:p@h:1/v1/chat/completions: refused; or 'https://k@x'"),
            "cannot reach http://u:[redacted]@h:1/v1/chat/completions: refused; or 'https://[redacted]@x'"
        );
    }

    #[test]
    fn params_are_redacted_by_name_and_content() {
        let v = json!({
            "aws_secret_access_key": "AKIA-secret", "aws_region_name": "eu-west-1",
            "input_cost_per_token": 0.5, "rpm": 10,
            "headers": {"X-Custom": "v1"}, "nested": {"client_secret": "s", "u": "http://a:b@h"},
            "list": ["http://a:b@h"]
        });
        assert_eq!(
            value(&v),
            json!({
                "aws_secret_access_key": REDACTED, "aws_region_name": "eu-west-1",
                "input_cost_per_token": 0.5, "rpm": 10,
                "headers": {"X-Custom": REDACTED}, "nested": {"client_secret": REDACTED, "u": "http://a:[redacted]@h"},
                "list": ["http://a:[redacted]@h"]
            })
        );
    }

    #[test]
    fn known_values_are_replaced() {
        assert_eq!(
            known(
                "Incorrect API key provided: sk-live-123456 at http://u:p@h",
                &["sk-live-123456", "k"]
            ),
            "Incorrect API key provided: [redacted] at http://u:[redacted]@h"
        );
    }
}

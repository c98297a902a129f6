//! Who sent a request, read from its headers once when it arrives: the session, the entered
//! directory's token, the profile, and the agent (the adapter's header, else the user agent).

use crate::router::affinity;
use http::HeaderMap;

/// Header carrying the directory token (DESIGN.md: the first 16 hex characters of sha256 of
/// the entered directory's canonical path), sent by the agent adapters with the profile.
pub const DIRECTORY_HEADER: &str = "x-agent-shim-directory";
/// Header naming the agent (`claude-code`, `codex`, `opencode`, …), when an adapter sends it;
/// else the agent is read from the user agent ([`agent_of_user_agent`]).
pub const AGENT_HEADER: &str = "x-agent-shim-agent";

/// Longest header value kept in a record; longer ones are cut (a record is not a dump).
const MAX_VALUE: usize = 200;

/// What the headers say about the client.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ClientInfo {
    pub session_id: Option<String>,
    pub directory: Option<String>,
    pub profile: Option<String>,
    pub agent: Option<String>,
}

impl ClientInfo {
    /// Reads `headers` ([`affinity::SESSION_HEADERS`], [`DIRECTORY_HEADER`],
    /// [`crate::dispatch::PROFILE_HEADER`], [`AGENT_HEADER`], `user-agent`).
    pub fn of(headers: &HeaderMap) -> ClientInfo {
        let value = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| cut(v).to_owned())
        };
        let agent = value(AGENT_HEADER).or_else(|| {
            headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .and_then(agent_of_user_agent)
        });
        ClientInfo {
            session_id: affinity::session_of(headers).map(|s| cut(s).to_owned()),
            directory: value(DIRECTORY_HEADER),
            profile: value(crate::dispatch::PROFILE_HEADER),
            agent,
        }
    }
}

/// `s` cut to at most [`MAX_VALUE`] bytes, at a character boundary.
fn cut(s: &str) -> &str {
    if s.len() <= MAX_VALUE {
        return s;
    }
    let mut end = MAX_VALUE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The agent a user agent names: `claude-cli/…` → `claude-code`, `codex_cli_rs/…` → `codex`,
/// `opencode/…` → `opencode`, else its first product token without the version (`curl/8.5` →
/// `curl`); `None` for an empty one.
pub fn agent_of_user_agent(ua: &str) -> Option<String> {
    let product = ua.split_whitespace().next()?;
    let name = product.split('/').next().unwrap_or(product);
    let agent = match name {
        "claude-cli" | "claude-code" => "claude-code",
        "codex_cli_rs" | "codex_exec" | "codex" => "codex",
        "opencode" => "opencode",
        "" => return None,
        other => other,
    };
    Some(cut(agent).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn agents_from_user_agents() {
        for (ua, want) in [
            ("claude-cli/2.0.31 (external, cli)", Some("claude-code")),
            (
                "codex_cli_rs/0.58.0 (Debian 12; x86_64) xterm-256color",
                Some("codex"),
            ),
            (
                "opencode/1.0.3 ai-sdk/provider-utils/3.0.9",
                Some("opencode"),
            ),
            ("curl/8.5.0", Some("curl")),
            ("python-httpx/0.28.1", Some("python-httpx")),
            ("   ", None),
        ] {
            assert_eq!(agent_of_user_agent(ua).as_deref(), want, "{ua}");
        }
    }

    #[test]
    fn the_adapter_header_wins_over_the_user_agent() {
        let mut h = HeaderMap::new();
        h.insert("user-agent", HeaderValue::from_static("claude-cli/2.0.31"));
        h.insert("x-agent-shim-profile", HeaderValue::from_static("work"));
        h.insert(
            "x-agent-shim-directory",
            HeaderValue::from_static("0123456789abcdef"),
        );
        h.insert("x-claude-code-session-id", HeaderValue::from_static("s-1"));
        let c = ClientInfo::of(&h);
        assert_eq!(c.agent.as_deref(), Some("claude-code"));
        assert_eq!(c.profile.as_deref(), Some("work"));
        assert_eq!(c.directory.as_deref(), Some("0123456789abcdef"));
        assert_eq!(c.session_id.as_deref(), Some("s-1"));
        h.insert("x-agent-shim-agent", HeaderValue::from_static("hermes"));
        assert_eq!(ClientInfo::of(&h).agent.as_deref(), Some("hermes"));
        assert_eq!(ClientInfo::of(&HeaderMap::new()), ClientInfo::default());
    }
}

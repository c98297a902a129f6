//! Which upstream requests go through a proxy: the standard proxy variables, read once when the
//! gateway starts ([`UpstreamProxy::from_env`]) and given to it as configuration, so that the
//! decision is made the same way as reqwest made it (hyper-util's matcher: `NO_PROXY` rules as
//! curl's) and tests can give one without touching the process environment. Requests a proxy
//! applies to are sent by reqwest with exactly these proxies; the others by the gateway's own
//! HTTP/1.1 client ([`crate::transport::h1`]).

use hyper_util::client::proxy::matcher::Matcher;

/// The proxy for `http://` URLs: `HTTP_PROXY`, else `http_proxy`.
pub const HTTP_PROXY_VARS: [&str; 2] = ["HTTP_PROXY", "http_proxy"];
/// The proxy for `https://` URLs: `HTTPS_PROXY`, else `https_proxy`.
pub const HTTPS_PROXY_VARS: [&str; 2] = ["HTTPS_PROXY", "https_proxy"];
/// The proxy for URLs of either scheme that have no proxy of their own: `ALL_PROXY`, else
/// `all_proxy`.
pub const ALL_PROXY_VARS: [&str; 2] = ["ALL_PROXY", "all_proxy"];
/// Hosts, domains and networks reached directly: `NO_PROXY`, else `no_proxy`.
pub const NO_PROXY_VARS: [&str; 2] = ["NO_PROXY", "no_proxy"];
/// Set when running as a CGI script: `HTTP_PROXY` may then come from a request's `Proxy:`
/// header (httpoxy), so no proxy variable is used (as reqwest/hyper-util do).
pub const CGI_VAR: &str = "REQUEST_METHOD";

/// The proxies upstream requests use; empty strings are unset. Its `Debug` output shows the
/// proxy URLs with their credentials redacted.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UpstreamProxy {
    /// Proxy URL for `http://` upstreams.
    pub http: String,
    /// Proxy URL for `https://` upstreams.
    pub https: String,
    /// Proxy URL for both schemes when the scheme's own is unset.
    pub all: String,
    /// `NO_PROXY` list: comma-separated hosts, domains (with subdomains), IP addresses and
    /// networks, or `*`.
    pub no: String,
}

impl std::fmt::Debug for UpstreamProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamProxy")
            .field("http", &crate::redact::url(&self.http))
            .field("https", &crate::redact::url(&self.https))
            .field("all", &crate::redact::url(&self.all))
            .field("no", &self.no)
            .finish()
    }
}

impl UpstreamProxy {
    /// No proxy at all.
    pub fn none() -> UpstreamProxy {
        UpstreamProxy::default()
    }

    /// The proxy variables of this process ([`HTTP_PROXY_VARS`], …), upper case first; none
    /// at all under CGI ([`CGI_VAR`]).
    pub fn from_env() -> UpstreamProxy {
        if std::env::var_os(CGI_VAR).is_some() {
            return UpstreamProxy::none();
        }
        let first = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok())
                .unwrap_or_default()
        };
        UpstreamProxy {
            http: first(HTTP_PROXY_VARS),
            https: first(HTTPS_PROXY_VARS),
            all: first(ALL_PROXY_VARS),
            no: first(NO_PROXY_VARS),
        }
    }

    /// Whether no proxy is configured (every request goes direct).
    pub fn is_empty(&self) -> bool {
        self.http.is_empty() && self.https.is_empty() && self.all.is_empty()
    }

    /// The matcher deciding per URL, `None` when no proxy is configured.
    pub(crate) fn matcher(&self) -> Option<Matcher> {
        (!self.is_empty()).then(|| {
            Matcher::builder()
                .http(self.http.clone())
                .https(self.https.clone())
                .all(self.all.clone())
                .no(self.no.clone())
                .build()
        })
    }

    /// These proxies on a reqwest client builder (which otherwise reads the environment itself):
    /// each scheme's own first, then the one for all, each with the `NO_PROXY` list. A proxy URL
    /// reqwest cannot read is left out, as the matcher leaves it out.
    pub(crate) fn apply(&self, mut b: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        b = b.no_proxy();
        let no = || reqwest::NoProxy::from_string(&self.no);
        type Make = fn(String) -> reqwest::Result<reqwest::Proxy>;
        let proxies: [(&String, Make, [&str; 2]); 3] = [
            (&self.http, reqwest::Proxy::http::<String>, HTTP_PROXY_VARS),
            (
                &self.https,
                reqwest::Proxy::https::<String>,
                HTTPS_PROXY_VARS,
            ),
            (&self.all, reqwest::Proxy::all::<String>, ALL_PROXY_VARS),
        ];
        for (url, make, vars) in proxies {
            if url.is_empty() {
                continue;
            }
            match make(url.clone()) {
                Ok(p) => b = b.proxy(p.no_proxy(no())),
                // The value is not shown: a proxy URL may hold a password.
                Err(_) => tracing::warn!(
                    "the proxy in {} is not a URL; upstream requests do not use it",
                    vars.join(" or ")
                ),
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_proxy_credentials() {
        let p = UpstreamProxy {
            http: "http://alice:s3cret@proxy.local:3128".into(),
            ..UpstreamProxy::none()
        };
        let shown = format!("{p:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("proxy.local:3128"), "{shown}");
    }

    fn proxied(p: &UpstreamProxy, url: &str) -> bool {
        p.matcher()
            .is_some_and(|m| m.intercept(&url.parse().unwrap()).is_some())
    }

    #[test]
    fn the_scheme_own_proxy_then_all_and_no_proxy_exempts() {
        let none = UpstreamProxy::none();
        assert!(none.matcher().is_none());
        let p = UpstreamProxy {
            http: "http://proxy:3128".into(),
            no: "localhost, .internal, 10.0.0.0/8".into(),
            ..UpstreamProxy::none()
        };
        assert!(proxied(&p, "http://api.example.com/v1"));
        assert!(!proxied(&p, "https://api.example.com/v1"));
        assert!(!proxied(&p, "http://localhost:8000/v1"));
        assert!(!proxied(&p, "http://llm.internal/v1"));
        assert!(!proxied(&p, "http://10.1.2.3:8000/v1"));
        let all = UpstreamProxy {
            all: "http://proxy:3128".into(),
            ..UpstreamProxy::none()
        };
        assert!(proxied(&all, "https://api.example.com/v1"));
        assert!(proxied(&all, "http://localhost:8000/v1"));
    }
}

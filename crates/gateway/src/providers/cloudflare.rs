//! The `cloudflare` provider: Workers AI's OpenAI-compatible endpoint,
//! `https://api.cloudflare.com/client/v4/accounts/<account id>/ai/v1`, with a bearer API token
//! (<https://developers.cloudflare.com/workers-ai/configuration/open-ai-compatibility/>). The
//! table row fills in the account id (CLOUDFLARE_ACCOUNT_ID); this module reads LiteLLM's own
//! Cloudflare `api_base`, the native API's `…/ai/run/`, as the same account's `…/ai/v1`, so a
//! LiteLLM config's URL works unchanged.

use crate::providers::deployment::Deployment;
use crate::secrets::SecretSource;
use crate::transport::http::build_at;
use crate::transport::{Transport, TransportKind};
use std::borrow::Cow;

/// The table row's value for `cloudflare`.
pub static CLOUDFLARE: CloudflareKind = CloudflareKind;

/// [`TransportKind`] of Workers AI: HTTP at the OpenAI-compatible base.
#[derive(Debug)]
pub struct CloudflareKind;

impl TransportKind for CloudflareKind {
    fn api_base_example(&self) -> &'static str {
        "https://api.cloudflare.com/client/v4/accounts/<account id>/ai/v1"
    }

    fn build(&self, d: &Deployment, _: &dyn SecretSource) -> Result<Box<dyn Transport>, String> {
        build_at(d, &openai_base(&d.api_base))
    }
}

/// The OpenAI-compatible base for `base` (without a trailing `/`): a native `…/ai/run` base
/// becomes `…/ai/v1`; any other is kept.
pub fn openai_base(base: &str) -> Cow<'_, str> {
    match base.strip_suffix("/ai/run") {
        Some(account) => Cow::Owned(format!("{account}/ai/v1")),
        None => Cow::Borrowed(base),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litellms_native_base_is_read_as_the_openai_one() {
        let acc = "https://api.cloudflare.com/client/v4/accounts/abc";
        assert_eq!(
            openai_base(&format!("{acc}/ai/run")),
            format!("{acc}/ai/v1")
        );
        assert_eq!(openai_base(&format!("{acc}/ai/v1")), format!("{acc}/ai/v1"));
        assert_eq!(openai_base("http://gw.example/v1"), "http://gw.example/v1");
    }
}

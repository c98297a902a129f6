//! Where a deployment's requests go and which key they carry, from the definition and its
//! provider row, in LiteLLM's order: `api_base` (which may be `os.environ/NAME`), else the row's
//! base variable (`AZURE_API_BASE`, `LM_STUDIO_API_BASE`, …), else the row's default with its
//! `{NAME}` placeholders filled (Cloudflare's account id); the key from `api_key`, else the
//! first of the row's key variables that is set.

use super::table::ProviderInfo;
use crate::model::{LitellmParams, SecretString};
use crate::secrets::SecretSource;

/// The base URL of `provider`'s endpoint for `params`, without a trailing `/`; empty for a
/// transport that needs none. Errors name the variable or parameter to set.
pub(super) fn api_base(
    provider: &ProviderInfo,
    params: &LitellmParams,
    secrets: &dyn SecretSource,
) -> Result<String, String> {
    let trim = |s: &str| s.trim().trim_end_matches('/').to_owned();
    if let Some(b) = &params.api_base {
        return match b.trim().strip_prefix("os.environ/") {
            None => Ok(trim(b)),
            Some(var) => secrets.get(var).map(|v| trim(v.expose())).ok_or_else(|| {
                format!(
                    "litellm_params.api_base is os.environ/{var}, which is not set (environment or \
                     .secrets); set {var} or write the URL in litellm_params.api_base"
                )
            }),
        };
    }
    if let Some(v) = provider.base_env.and_then(|var| secrets.get(var)) {
        return Ok(trim(v.expose()));
    }
    let or_var = provider
        .base_env
        .map(|v| format!(" or {v}"))
        .unwrap_or_default();
    match provider.api_base {
        Some(template) => fill(template, secrets).map_err(|var| {
            format!(
                "provider '{}' needs {var} for its endpoint ({template}); set it (`agent-shim \
                 secrets set {var}`), or set litellm_params.api_base{or_var}",
                provider.name
            )
        }),
        None if !provider.transport.needs_api_base() => Ok(String::new()),
        None => Err(format!(
            "provider '{}' has no default endpoint; set litellm_params.api_base (e.g. {}){or_var}",
            provider.name,
            provider.transport.api_base_example()
        )),
    }
}

/// `template` with each `{NAME}` replaced by the value of NAME; `Err(NAME)` for one not set.
fn fill(template: &str, secrets: &dyn SecretSource) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let var = &rest[open + 1..open + close];
        let value = secrets.get(var).ok_or_else(|| var.to_owned())?;
        out.push_str(&rest[..open]);
        out.push_str(value.expose().trim());
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Where the key comes from: `api_key` as given (a value or `os.environ/NAME`), else
/// `os.environ/` the first of the row's key variables that is set, else its main one (so that a
/// missing key names it). `None` for a row without key variables.
pub(super) fn key_reference(
    provider: &ProviderInfo,
    params: &LitellmParams,
    secrets: &dyn SecretSource,
) -> Option<SecretString> {
    if let Some(k) = &params.api_key {
        return Some(k.clone());
    }
    let main = provider.key_env?;
    let var = std::iter::once(main)
        .chain(provider.key_env_also.iter().copied())
        .find(|v| secrets.get(v).is_some())
        .unwrap_or(main);
    SecretString::new(format!("os.environ/{var}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::table::provider;
    use std::collections::HashMap;

    fn secrets(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn api_base_from_the_definition_its_variable_the_row_variable_or_the_template() {
        let cf = provider("cloudflare").unwrap();
        let mut p = LitellmParams::default();
        let e = api_base(cf, &p, &secrets(&[])).unwrap_err();
        assert!(
            e.contains("CLOUDFLARE_ACCOUNT_ID") && e.contains("api_base"),
            "{e}"
        );
        let s = secrets(&[("CLOUDFLARE_ACCOUNT_ID", "acc123")]);
        assert_eq!(
            api_base(cf, &p, &s).unwrap(),
            "https://api.cloudflare.com/client/v4/accounts/acc123/ai/v1"
        );
        let s = secrets(&[
            ("CLOUDFLARE_API_BASE", "http://h:1/x/"),
            ("BASE", "http://b/v1/"),
        ]);
        assert_eq!(api_base(cf, &p, &s).unwrap(), "http://h:1/x");
        p.api_base = Some("os.environ/BASE".into());
        assert_eq!(api_base(cf, &p, &s).unwrap(), "http://b/v1");
        p.api_base = Some("os.environ/NOPE".into());
        let e = api_base(cf, &p, &s).unwrap_err();
        assert!(
            e.contains("os.environ/NOPE") && e.contains("set NOPE"),
            "{e}"
        );
        let azure = provider("azure").unwrap();
        let e = api_base(azure, &LitellmParams::default(), &s).unwrap_err();
        assert!(
            e.contains("openai.azure.com") && e.contains("AZURE_API_BASE"),
            "{e}"
        );
    }

    #[test]
    fn key_from_the_first_variable_set_else_the_main_one() {
        let together = provider("together_ai").unwrap();
        let p = LitellmParams::default();
        let key = |s: &HashMap<String, String>| {
            key_reference(together, &p, s)
                .and_then(|k| k.env_reference().map(str::to_owned))
                .unwrap()
        };
        // LiteLLM's order.
        assert_eq!(key(&secrets(&[])), "TOGETHER_API_KEY");
        assert_eq!(
            key(&secrets(&[("TOGETHERAI_API_KEY", "k")])),
            "TOGETHERAI_API_KEY"
        );
        assert_eq!(
            key(&secrets(&[
                ("TOGETHERAI_API_KEY", "j"),
                ("TOGETHER_AI_API_KEY", "i"),
                ("TOGETHER_API_KEY", "k"),
            ])),
            "TOGETHER_API_KEY"
        );
        assert_eq!(
            key(&secrets(&[
                ("TOGETHERAI_API_KEY", "j"),
                ("TOGETHER_AI_API_KEY", "i")
            ])),
            "TOGETHER_AI_API_KEY"
        );
        assert!(key_reference(provider("openai_like").unwrap(), &p, &secrets(&[])).is_none());
    }
}

//! String parameters a provider reads from `litellm_params` beyond the common ones (Bedrock's
//! `aws_*`, Azure's `api_version` and `azure_ad_token`), each of which may be `os.environ/NAME`
//! as in LiteLLM.

use crate::model::LitellmParams;
use crate::secrets::SecretSource;

/// The `litellm_params` of one definition, with the source of `os.environ/NAME` values.
pub struct Params<'a> {
    pub params: &'a LitellmParams,
    pub secrets: &'a dyn SecretSource,
}

impl Params<'_> {
    /// The string value of `key`, resolved. A key without a value (`aws_region_name:` in YAML,
    /// null in JSON), a blank value and an unset variable are all unset, as in LiteLLM. Errors:
    /// a value that is not a string.
    pub fn get(&self, key: &str) -> Result<Option<String>, String> {
        let Some(v) = self.params.other.get(key).filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let Some(s) = v.as_str() else {
            return Err(format!("litellm_params.{key} must be a string"));
        };
        Ok(resolve(s, self.secrets))
    }

    /// The raw string value of `key` (`os.environ/NAME` not resolved), for values read at use.
    pub fn raw(&self, key: &str) -> Result<Option<&str>, String> {
        match self.params.other.get(key).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.trim()).filter(|s| !s.is_empty()))
                .ok_or_else(|| format!("litellm_params.{key} must be a string")),
        }
    }
}

/// `value`, or the value of NAME when it is `os.environ/NAME` (`None` when that is unset); blank
/// is unset.
pub fn resolve(value: &str, secrets: &dyn SecretSource) -> Option<String> {
    match value.strip_prefix("os.environ/") {
        Some(var) => secrets
            .get(var.trim())
            .map(|v| v.expose().to_owned())
            .filter(|v| !v.trim().is_empty()),
        None if value.trim().is_empty() => None,
        None => Some(value.to_owned()),
    }
}

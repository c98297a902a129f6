//! Where `os.environ/NAME` references are looked up. The binary supplies the real source (the
//! environment, then the `.secrets` file); tests use a map.

use crate::model::SecretString;
use std::collections::HashMap;

/// A lookup of secret values by variable name. Implementations must not log values.
pub trait SecretSource: Send + Sync {
    /// The value of `name`, or `None` when it is not set anywhere.
    fn get(&self, name: &str) -> Option<SecretString>;
}

/// The process environment only.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvSecrets;

impl SecretSource for EnvSecrets {
    fn get(&self, name: &str) -> Option<SecretString> {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretString::new)
    }
}

impl SecretSource for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<SecretString> {
        HashMap::get(self, name).map(|v| SecretString::new(v.as_str()))
    }
}

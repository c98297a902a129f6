//! The service's env file (`<config dir>/service.env`, mode 0600): the values, as set in the
//! installing environment, of the variables the gateway's configuration reads keys from — each
//! model definition's key variable (`api_key: os.environ/NAME`, else its provider's) and the
//! master key's; also, when set, other `os.environ/NAME` parameters and the AWS chain's — since a
//! service does not inherit the installing shell's environment. A key variable set nowhere is a
//! commented placeholder (and named in a warning); one in `.secrets` needs no line, the gateway
//! reads that file itself. Values are
//! double-quoted with `\`, `"`, `$` and `` ` `` escaped, which systemd's `EnvironmentFile=` and
//! a POSIX shell's `.` (the launchd wrapper) read alike.

use crate::error::Result;
use crate::settings::catalog::Sourced;
use crate::settings::{Settings, env_vars, secrets};
use gateway::{ModelDefinition, SecretString};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The env file in the config dir `config_dir`.
pub fn path(config_dir: &Path) -> PathBuf {
    config_dir.join("service.env")
}

/// Variables the AWS credential chain reads, carried when set and a model is on Bedrock.
const AWS: &[&str] = &[
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];

/// What goes into the file.
#[derive(Debug, Default)]
pub struct Keys {
    /// Set in the installing environment: written with their values.
    pub set: Vec<(String, SecretString)>,
    /// Not set here, but in `.secrets` (the gateway reads it).
    pub in_secrets: Vec<String>,
    /// Set nowhere: commented placeholders, named in a warning.
    pub missing: Vec<String>,
    /// Set here with a line break inside: not written, named in a warning.
    pub multiline: Vec<String>,
}

/// The variables the configuration reads keys from: `(needed, optional)`. Optional ones (other
/// `os.environ/` parameters, the AWS chain's, `AGENT_SHIM_MASTER_KEY` when the master key is
/// generated) are written when set and never warned about.
pub fn variables(
    settings: &Settings,
    models: &[Sourced<ModelDefinition>],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut needed = BTreeSet::new();
    let mut optional = BTreeSet::new();
    for m in models {
        let p = &m.item.litellm_params;
        if p.mock_response.is_some() {
            continue;
        }
        // A key_command runs in the service (PATH is carried); it names no variable.
        if p.key_command.is_none() {
            let var = match &p.api_key {
                Some(k) => k.env_reference().map(str::to_owned),
                None => m
                    .item
                    .provider_prefix()
                    .and_then(gateway::provider)
                    .and_then(|p| p.key_env)
                    .map(str::to_owned),
            };
            needed.extend(var);
        }
        // Other `os.environ/NAME` parameters (Bedrock's region and profile, …) fall back to a
        // default when unset.
        for v in p.other.values() {
            if let Some(name) = v.as_str().and_then(|s| s.strip_prefix("os.environ/")) {
                optional.insert(name.to_owned());
            }
        }
        if m.item.provider_prefix() == Some("bedrock") {
            optional.extend(AWS.iter().map(|v| (*v).to_owned()));
        }
    }
    match settings.config.master_key().and_then(|k| k.env_reference()) {
        Some(var) => needed.insert(var.to_owned()),
        None => optional.insert(env_vars::MASTER_KEY.to_owned()),
    };
    needed.retain(|n| valid_name(n));
    optional.retain(|n| valid_name(n) && !needed.contains(n));
    (needed, optional)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

/// Sorts the variables by where their values are: `get` is the installing environment.
pub fn keys(
    settings: &Settings,
    models: &[Sourced<ModelDefinition>],
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Keys> {
    let (needed, optional) = variables(settings, models);
    let file = secrets::read(&settings.secrets_path())?;
    let mut k = Keys::default();
    for (name, is_needed) in needed
        .into_iter()
        .map(|n| (n, true))
        .chain(optional.into_iter().map(|n| (n, false)))
    {
        match get(&name).and_then(SecretString::new) {
            Some(v) if v.expose().contains(['\n', '\r']) => k.multiline.push(name),
            Some(v) => k.set.push((name, v)),
            None if file
                .get(&name)
                .is_some_and(|v| SecretString::new(v).is_some()) =>
            {
                k.in_secrets.push(name)
            }
            None if is_needed => k.missing.push(name),
            None => {}
        }
    }
    k.set.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(k)
}

/// `value` double-quoted for systemd's `EnvironmentFile=` and a POSIX shell alike.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The file's text.
pub fn render(keys: &Keys, secrets_path: &Path) -> String {
    let mut out = format!(
        "# agent-shim service environment, written by `agent-shim service install` (mode 0600) and\n\
         # read before the gateway starts; `agent-shim service uninstall` removes it, a new install\n\
         # rewrites it. Keys kept in .secrets need no line here: the gateway reads that file,\n\
         # {}\n",
        secrets_path.display()
    );
    for (name, value) in &keys.set {
        out.push_str(&format!("{name}={}\n", quote(value.expose())));
    }
    for name in &keys.in_secrets {
        out.push_str(&format!("# {name}=  (in {})\n", secrets_path.display()));
    }
    for name in &keys.missing {
        out.push_str(&format!(
            "# {name}=  (not set when the service was installed)\n"
        ));
    }
    for name in &keys.multiline {
        out.push_str(&format!(
            "# {name}=  (its value has a line break; keep it in .secrets instead)\n"
        ));
    }
    out
}

/// Writes the file, mode 0600, replacing it atomically.
pub fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            crate::error::CliError::failed(format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    secrets::write_private(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a POSIX shell's `.` makes of a quoted value (the launchd wrapper reads the file so).
    fn through_sh(value: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("env");
        std::fs::write(&f, format!("V={}\n", quote(value))).unwrap();
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", r#"set -a && . "$0" && printf %s "$V""#])
            .arg(&f)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn awkward_values_survive_the_shell() {
        for v in [
            "sk-plain",
            r#"a"b"#,
            r"back\slash\n",
            "$HOME and ${X} and `id`",
            "it's # not a comment",
            "  inner  spaces  ",
        ] {
            assert_eq!(through_sh(v), v, "{v:?}");
        }
    }
}

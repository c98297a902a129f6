//! Reading YAML files into typed values, with errors that name the file, line and column and say
//! what was expected (serde-saphyr's messages).

use crate::error::{CliError, Result};
use serde::de::DeserializeOwned;
use std::path::Path;

/// Parses `text`, which came from `origin` (a path, or `built-in <name>`).
pub fn parse<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    serde_saphyr::from_str(text).map_err(|e| {
        let inner = e.without_snippet().to_string();
        let inner = inner.strip_prefix("error: ").unwrap_or(&inner);
        match e.location() {
            Some(loc) => {
                let (line, col) = (loc.line(), loc.column());
                let prefix = format!("line {line} column {col}: ");
                let suffix = format!(" at line {line}, column {col}");
                let msg = inner.strip_prefix(prefix.as_str()).unwrap_or(inner);
                let msg = msg.strip_suffix(suffix.as_str()).unwrap_or(msg);
                CliError::usage(format!("{origin}:{line}:{col}: {msg}"))
            }
            None => CliError::usage(format!("{origin}: {inner}")),
        }
    })
}

/// Reads and parses `path`; `Ok(None)` when it does not exist.
pub fn read_optional<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &path.display().to_string()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) if path.is_dir() => Err(CliError::usage(format!(
            "{} is a directory; give a YAML file (e.g. {})",
            path.display(),
            path.join("config.yaml").display()
        ))),
        Err(e) => Err(CliError::failed(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct C {
        port: Option<u16>,
    }

    #[test]
    fn errors_name_file_line_column_and_expectation() {
        let e = parse::<C>("port: 1\nprot: 2\n", "/x/config.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/x/config.yaml:2:1: unknown field `prot`, expected one of port"
        );
        let e = parse::<C>("port: 70000\n", "/x/config.yaml").unwrap_err();
        assert_eq!(e.to_string(), "/x/config.yaml:1:7: invalid u16");
        assert_eq!(e.exit_code(), 2);
    }
}

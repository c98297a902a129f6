//! Reading YAML files into typed values, with errors that name the file, line and column, the
//! path of the key at fault and what was expected, in user words
//! (`models.yaml:5:19: model_list[0].litellm_params.max_tokens: expected a whole number, got the
//! string "many"`): serde-saphyr's messages through [`protocol::shape`], the wording the
//! gateway uses for requests.

use crate::error::{CliError, Result};
use protocol::shape::{Dialect, ShapeError};
use serde::de::DeserializeOwned;
use std::path::Path;

/// Parses `text`, which came from `origin` (a path, or `built-in <name>`). A key given twice in
/// a mapping is an error.
pub fn parse<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    parse_with(text, origin, serde_saphyr::DuplicateKeyPolicy::Error)
}

/// As [`parse`], but a key given twice takes the last value, as PyYAML (LiteLLM's loader) does;
/// [`super::litellm`] names such keys in warnings.
pub fn parse_last_wins<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    parse_with(text, origin, serde_saphyr::DuplicateKeyPolicy::LastWins)
}

fn parse_with<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    duplicates: serde_saphyr::DuplicateKeyPolicy,
) -> Result<T> {
    let mut path = String::new();
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = duplicates;
    let parsed = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    parsed.map_err(|e| {
        let e = e.without_snippet();
        if let serde_saphyr::Error::MultipleDocuments { .. } = e {
            let at = e.location().map_or(String::new(), |l| format!(":{}", l.line()));
            return CliError::usage(format!(
                "{origin}{at}: a second YAML document (`---`) starts here; keep one document per file"
            ));
        }
        let inner = e.to_string();
        let inner = inner.strip_prefix("error: ").unwrap_or(&inner);
        match e.location() {
            Some(loc) => {
                let (line, col) = (loc.line(), loc.column());
                let prefix = format!("line {line} column {col}: ");
                let suffix = format!(" at line {line}, column {col}");
                let msg = inner.strip_prefix(prefix.as_str()).unwrap_or(inner);
                let msg = msg.strip_suffix(suffix.as_str()).unwrap_or(msg);
                let got = value_at(text, line as usize, col as usize);
                let shape = ShapeError::new(&path, msg, Dialect::Yaml, got.as_deref());
                CliError::usage(format!("{origin}:{line}:{col}: {shape}"))
            }
            None => {
                let shape = ShapeError::new(&path, inner, Dialect::Yaml, None);
                CliError::usage(format!("{origin}: {shape}"))
            }
        }
    })
}

/// The YAML value that starts at `line`:`col` (1-based), in words (`the string "many"`,
/// `70000`, `a list`, `a mapping`), for messages that do not say what they found.
fn value_at(text: &str, line: usize, col: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(line.checked_sub(1)?)?;
    let rest: String = here.chars().skip(col.saturating_sub(1)).collect();
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') {
        // A block value starts on a later line.
        let next = lines[line..]
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty() && !l.starts_with('#'))?;
        return Some(block_kind(next).unwrap_or("nothing").to_owned());
    }
    if let Some(kind) = block_kind(rest) {
        return Some(kind.to_owned());
    }
    for q in ['"', '\''] {
        if let Some(body) = rest.strip_prefix(q) {
            let s = body.split(q).next().unwrap_or(body);
            return Some(format!("the string {s:?}"));
        }
    }
    let scalar = rest.split(" #").next().unwrap_or(rest).trim();
    Some(match scalar {
        "null" | "~" => "null".to_owned(),
        "true" | "false" => scalar.to_owned(),
        _ if scalar.parse::<f64>().is_ok() => scalar.to_owned(),
        _ => format!("the string {scalar:?}"),
    })
}

/// `a list` or `a mapping` when `s` (a trimmed line) opens one.
fn block_kind(s: &str) -> Option<&'static str> {
    if s.starts_with('[') || s == "-" || s.starts_with("- ") {
        Some("a list")
    } else if s.starts_with('{') || s.ends_with(':') || s.contains(": ") {
        Some("a mapping")
    } else {
        None
    }
}

/// Reads and parses `path`; `Ok(None)` when it does not exist.
pub fn read_optional<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match read_text_optional(path)? {
        Some(text) => parse(&text, &path.display().to_string()).map(Some),
        None => Ok(None),
    }
}

/// Reads `path`; `Ok(None)` when it does not exist. Errors name the file.
pub fn read_text_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
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
        models: Option<Vec<M>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct M {
        name: String,
        max_tokens: Option<u32>,
        #[serde(flatten)]
        other: std::collections::BTreeMap<String, serde_json::Value>,
    }

    fn err(text: &str) -> String {
        let e = parse::<C>(text, "/x/config.yaml").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        e.to_string()
    }

    /// Regression: `invalid u16` and `unknown field `prot`, expected one of …` (serde's words)
    /// without the key at fault.
    #[test]
    fn errors_name_file_line_column_key_and_expectation() {
        let cases = [
            (
                "port: 1\nprot: 2\n",
                "/x/config.yaml:2:1: prot: not a known key; the keys here are port, models",
            ),
            (
                "port: 70000\n",
                "/x/config.yaml:1:7: port: expected a whole number from 0 to 65535, got 70000",
            ),
            (
                "port: high # the port\n",
                r#"/x/config.yaml:1:7: port: expected a whole number, got the string "high""#,
            ),
            (
                "models:\n  - name: a\n    max_tokens: \"lots\"\n",
                r#"/x/config.yaml:3:17: models[0].max_tokens: expected a whole number, got the string "lots""#,
            ),
            (
                "models:\n  name: a\n",
                "/x/config.yaml:2:3: models: expected a list, got a mapping",
            ),
            (
                "models:\n  - max_tokens: 5\n",
                "/x/config.yaml:2:5: models[0].name: required, but missing",
            ),
            (
                "models:\n  - name: [a]\n",
                "/x/config.yaml:2:11: models[0].name: expected a string, got a list",
            ),
            (
                "port: 1\n---\nport: 2\n",
                "/x/config.yaml:3: a second YAML document (`---`) starts here; keep one document per file",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), want, "{text}");
        }
    }
}

//! The systemd user unit (`~/.config/systemd/user/agent-shim.service`): rendered from a
//! [`Spec`] with systemd's quoting (`%` specifiers and `$` expansion escaped, words with
//! spaces or quotes double-quoted), and read back (for `service status` and `uninstall`).

use super::{Parsed, Spec};
use crate::error::{CliError, Result};
use std::path::{Path, PathBuf};

/// The unit for `spec`. Errors name a value a unit cannot hold (a newline or another control
/// character).
pub fn render(spec: &Spec) -> Result<String> {
    let exe = spec.exe.to_str().ok_or_else(|| {
        CliError::usage(format!(
            "agent-shim's path {} is not UTF-8; a unit cannot name it",
            spec.exe.display()
        ))
    })?;
    let mut exec = vec![word(exe, "agent-shim's path", true)?];
    for a in &spec.args {
        exec.push(word(a, "the service's command line", true)?);
    }
    let env_file = spec
        .env_file
        .to_str()
        .ok_or_else(|| CliError::usage(format!("{} is not UTF-8", spec.env_file.display())))?;
    check(env_file, "the env file's path")?;
    let mut out = String::from(
        "# Written by `agent-shim service install`; `agent-shim service uninstall` removes it.\n\
         # The provider keys are in the EnvironmentFile (mode 0600), never in this file.\n\
         [Unit]\n\
         Description=agent-shim gateway (one LLM gateway for coding agents and local clients)\n\
         \n\
         [Service]\n\
         Type=exec\n",
    );
    out.push_str(&format!("ExecStart={}\n", exec.join(" ")));
    for (k, v) in &spec.env {
        out.push_str(&format!(
            "Environment={}\n",
            word(&format!("{k}={v}"), k, false)?
        ));
    }
    out.push_str(&format!(
        "EnvironmentFile={}\n",
        env_file.replace('%', "%%")
    ));
    out.push_str(
        "Restart=on-failure\n\
         RestartSec=2\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
    );
    Ok(out)
}

/// Refuses a value a unit line cannot carry.
fn check(value: &str, what: &str) -> Result<()> {
    if value.chars().any(char::is_control) {
        return Err(CliError::usage(format!(
            "{what} has a newline or another control character; a systemd unit cannot hold it"
        )));
    }
    Ok(())
}

/// One word of a unit line: `%` doubled (specifiers), `$` doubled when `exec` (`ExecStart=`
/// expands variables, `Environment=` does not), double-quoted with `\` and `"` escaped when it
/// has anything but plain characters.
fn word(value: &str, what: &str, exec: bool) -> Result<String> {
    check(value, what)?;
    let mut escaped = value.replace('%', "%%");
    if exec {
        escaped = escaped.replace('$', "$$");
    }
    let plain = !escaped.is_empty()
        && escaped
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%$+,".contains(&b));
    if plain {
        return Ok(escaped);
    }
    Ok(format!(
        "\"{}\"",
        escaped.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// What the unit at `path` runs: `ExecStart=`, `Environment=` and `EnvironmentFile=`, unquoted
/// (as [`render`] writes them).
pub fn read(path: &Path) -> Result<Parsed> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::failed(format!("cannot read {}: {e}", path.display())))?;
    let mut parsed = Parsed::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("ExecStart=") {
            parsed.argv = split(rest);
        } else if let Some(rest) = line.strip_prefix("Environment=") {
            parsed.env.extend(
                split(&rest.replace("$", "$$"))
                    .into_iter()
                    .filter_map(|w| w.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned()))),
            );
        } else if let Some(rest) = line.strip_prefix("EnvironmentFile=") {
            let file = rest.trim().trim_start_matches('-').replace("%%", "%");
            parsed.env_file = Some(PathBuf::from(file));
        }
    }
    if parsed.argv.is_empty() {
        return Err(CliError::failed(format!(
            "{} has no ExecStart= line; run `agent-shim service install` to rewrite it",
            path.display()
        )));
    }
    Ok(parsed)
}

/// Splits a unit line into words: double quotes group, `\\` and `\"` inside them are the
/// characters, `%%` and `$$` are `%` and `$`.
pub fn split(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.get_or_insert_default();
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.get_or_insert_default().push(n);
                }
            }
            '%' | '$' if chars.peek() == Some(&c) => {
                chars.next();
                cur.get_or_insert_default().push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if let Some(w) = cur.take() {
                    words.push(w);
                }
            }
            c => cur.get_or_insert_default().push(c),
        }
    }
    words.extend(cur);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(exe: &str, args: &[&str]) -> Spec {
        Spec {
            exe: PathBuf::from(exe),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: vec![("PATH".into(), "/opt/my bin:/usr/$x/bin".into())],
            env_file: PathBuf::from("/home/me/.config/agent-shim/service.env"),
            log: PathBuf::from("/tmp/log"),
        }
    }

    #[test]
    fn awkward_words_survive_quoting() {
        let s = spec(
            "/opt/agent shim/100%/agent-shim",
            &["serve", "--config", "/c/a \"b\" $HOME\\x.yaml"],
        );
        let unit = render(&s).unwrap();
        let line = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
        assert!(line.contains("100%%"), "{line}");
        assert!(line.contains("$$HOME"), "{line}");
        let words = split(line.strip_prefix("ExecStart=").unwrap());
        assert_eq!(
            words,
            [
                "/opt/agent shim/100%/agent-shim",
                "serve",
                "--config",
                "/c/a \"b\" $HOME\\x.yaml"
            ]
        );
        assert!(
            unit.contains("Environment=\"PATH=/opt/my bin:/usr/$x/bin\"\n"),
            "{unit}"
        );
    }

    #[test]
    fn a_newline_is_refused() {
        let e = render(&spec("/bin/agent-shim", &["serve", "--config", "/a\nb"])).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("newline"), "{e}");
    }
}
